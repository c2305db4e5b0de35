/*
 * metrics/info.h - INFO: sections registered by the modules that own the
 * numbers, generated on demand in Redis's format ("# Section\r\n" then
 * "field:value\r\n" lines, a blank line between sections).
 *
 * Selection follows Redis 7: no argument or "default" = default sections;
 * "all" = all but the heavy ones (commandstats, errorstats, latencystats
 * are included in all; modules-like ones excluded); "everything" = all;
 * several section names may be given, case-insensitively.
 * Thread context: [any].
 */
#ifndef STASH_METRICS_INFO_H
#define STASH_METRICS_INFO_H

#include "base/buf.h"
#include "base/common.h"

typedef void (*info_section_fn)(struct buf *out);

#define INFO_DEFAULT 1u  /* part of INFO / INFO default */
#define INFO_ALL 2u      /* part of INFO all */

void info_register(const char *name, unsigned flags, info_section_fn fn);
/* Generate the sections selected by argv (argc may be 0). */
void info_generate(int argc, const char *const *argv, const size_t *lens, struct buf *out);

#endif
