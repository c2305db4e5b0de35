/*
 * metrics/info.c - see info.h.
 */
#include "metrics/info.h"

#include <ctype.h>
#include <string.h>
#include <strings.h>

#define MAX_SECTIONS 32

static struct {
    const char *name;
    unsigned flags;
    info_section_fn fn;
} sections[MAX_SECTIONS];
static int nsections;

void info_register(const char *name, unsigned flags, info_section_fn fn) {
    if (nsections < MAX_SECTIONS) {
        sections[nsections].name = name;
        sections[nsections].flags = flags;
        sections[nsections].fn = fn;
        nsections++;
    }
}

void info_generate(int argc, const char *const *argv, const size_t *lens, struct buf *out) {
    bool want[MAX_SECTIONS] = {false};
    if (argc == 0) {
        for (int i = 0; i < nsections; i++) want[i] = (sections[i].flags & INFO_DEFAULT) != 0;
    }
    for (int a = 0; a < argc; a++) {
        size_t n = lens[a];
        const char *s = argv[a];
        if (n == 10 && strncasecmp(s, "everything", 10) == 0) {
            for (int i = 0; i < nsections; i++) want[i] = true;
        } else if (n == 3 && strncasecmp(s, "all", 3) == 0) {
            for (int i = 0; i < nsections; i++) want[i] |= (sections[i].flags & INFO_ALL) != 0;
        } else if (n == 7 && strncasecmp(s, "default", 7) == 0) {
            for (int i = 0; i < nsections; i++) want[i] |= (sections[i].flags & INFO_DEFAULT) != 0;
        } else {
            /* "module_list" is Redis's other name of the modules section. */
            if (n == 11 && strncasecmp(s, "module_list", 11) == 0) {
                s = "modules";
                n = 7;
            }
            for (int i = 0; i < nsections; i++)
                if (strlen(sections[i].name) == n && strncasecmp(sections[i].name, s, n) == 0) want[i] = true;
        }
    }
    bool first = true;
    for (int i = 0; i < nsections; i++) {
        if (!want[i]) continue;
        if (!first) buf_puts(out, "\r\n");
        first = false;
        buf_puts(out, "# ");
        if (strcmp(sections[i].name, "cpu") == 0) {
            buf_puts(out, "CPU"); /* Redis's one all-caps title */
        } else {
            buf_putc(out, (char)toupper((unsigned char)sections[i].name[0]));
            buf_puts(out, sections[i].name + 1);
        }
        buf_puts(out, "\r\n");
        sections[i].fn(out);
    }
}
