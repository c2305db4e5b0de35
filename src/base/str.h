/*
 * base/str.h - conversions between numbers and text, and glob matching, with
 * Redis's exact rules (clients and tests depend on them):
 *
 * - str_to_ll: strict decimal, optional '-', no '+', no spaces, no leading
 *   zeros (except "0"), no overflow. Its output re-formats to the same text.
 * - str_to_d / str_to_ld: strtod/strtold accepting the whole input only, no
 *   leading space, no NaN, no overflow to +-HUGE_VAL, no underflow to 0.
 * - d_to_str: "inf", "-inf", "nan", "-0", integers printed as integers, else
 *   %.17g (Redis d2string). ld_to_str_human: %.17Lf without trailing zeros
 *   (INCRBYFLOAT's format).
 * - glob_match: Redis's stringmatchlen: * ? [abc] [^a-z] \x, optional nocase.
 *
 * Inputs are (pointer, length) and need no terminating NUL. Thread: [any].
 */
#ifndef STASH_BASE_STR_H
#define STASH_BASE_STR_H

#include <stdbool.h>
#include <stddef.h>

/* Longest text of a long long, with sign, plus NUL. */
#define STR_LL_MAX 21
/* Room for any double / long double formatted by this module. */
#define STR_D_MAX 128
#define STR_LD_MAX 5120

bool str_to_ll(const char *s, size_t n, long long *out);
bool str_to_ull(const char *s, size_t n, unsigned long long *out);
bool str_to_d(const char *s, size_t n, double *out);
bool str_to_ld(const char *s, size_t n, long double *out);

/* Write v into buf (cap bytes, NUL-terminated); return the length. */
int ll_to_str(char *buf, size_t cap, long long v);
int ull_to_str(char *buf, size_t cap, unsigned long long v);
/* Digits of v, for sizing. */
int ull_digits(unsigned long long v);
int d_to_str(char *buf, size_t cap, double v);
/* %.17g (Redis's double replies), with "inf"/"-inf"/"nan" spelled out. */
int d_to_str_17g(char *buf, size_t cap, double v);
/* Returns 0 when the value does not fit. */
int ld_to_str_human(char *buf, size_t cap, long double v);

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase);

/* ASCII-only case folding and comparison. */
void str_lower(char *s, size_t n);
bool str_eq_nocase(const char *a, size_t alen, const char *b);

/* "100mb" / "1gb" / "512" / "2k" as redis.conf reads memory sizes. */
bool str_to_memsize(const char *s, size_t n, long long *out);

#endif
