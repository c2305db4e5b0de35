/*
 * base/str.c - see str.h for the rules. Written against Redis's documented
 * and tested behaviour (util.c semantics), not its code.
 */
#include "base/str.h"
#include "base/common.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

bool str_to_ull(const char *s, size_t n, unsigned long long *out) {
    if (n == 0 || n >= 21) return false;
    if (n == 1 && s[0] == '0') {
        *out = 0;
        return true;
    }
    if (s[0] < '1' || s[0] > '9') return false;
    unsigned long long v = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return false;
        if (v > ULLONG_MAX / 10) return false;
        v *= 10;
        if (v > ULLONG_MAX - d) return false;
        v += d;
    }
    *out = v;
    return true;
}

bool str_to_ll(const char *s, size_t n, long long *out) {
    if (n == 0 || n >= STR_LL_MAX) return false;
    bool neg = false;
    if (s[0] == '-') {
        neg = true;
        s++;
        n--;
        if (n == 0) return false;
        if (s[0] == '0') return false; /* "-0" is not canonical */
    }
    unsigned long long v;
    if (!str_to_ull(s, n, &v)) return false;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return false;
        *out = (long long)(0 - v);
    } else {
        if (v > LLONG_MAX) return false;
        *out = (long long)v;
    }
    return true;
}

/* Copy into a NUL-terminated buffer for strtod; big inputs are never valid
 * numbers we want (and would need an allocation). */
static bool terminated(const char *s, size_t n, char *buf, size_t cap) {
    if (n == 0 || n >= cap) return false;
    memcpy(buf, s, n);
    buf[n] = '\0';
    return true;
}

bool str_to_d(const char *s, size_t n, double *out) {
    char buf[STR_LD_MAX];
    if (!terminated(s, n, buf, sizeof(buf)) || isspace((unsigned char)buf[0])) return false;
    char *end;
    errno = 0;
    double v = strtod(buf, &end);
    if ((size_t)(end - buf) != n) return false;
    if (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || fpclassify(v) == FP_ZERO))
        return false;
    if (isnan(v)) return false;
    *out = v;
    return true;
}

bool str_to_ld(const char *s, size_t n, long double *out) {
    char buf[STR_LD_MAX];
    if (!terminated(s, n, buf, sizeof(buf)) || isspace((unsigned char)buf[0])) return false;
    char *end;
    errno = 0;
    long double v = strtold(buf, &end);
    if ((size_t)(end - buf) != n) return false;
    if (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO))
        return false;
    if (errno == EINVAL || isnan(v)) return false;
    *out = v;
    return true;
}

int ull_digits(unsigned long long v) {
    int d = 1;
    while (v >= 10) {
        v /= 10;
        d++;
    }
    return d;
}

int ull_to_str(char *buf, size_t cap, unsigned long long v) {
    static const char pairs[] = "0001020304050607080910111213141516171819"
                                "2021222324252627282930313233343536373839"
                                "4041424344454647484950515253545556575859"
                                "6061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    int len = ull_digits(v);
    if ((size_t)len >= cap) return 0;
    buf[len] = '\0';
    int i = len - 1;
    while (v >= 100) {
        unsigned idx = (unsigned)(v % 100) * 2;
        v /= 100;
        buf[i] = pairs[idx + 1];
        buf[i - 1] = pairs[idx];
        i -= 2;
    }
    if (v < 10) {
        buf[i] = (char)('0' + v);
    } else {
        buf[i] = pairs[v * 2 + 1];
        buf[i - 1] = pairs[v * 2];
    }
    return len;
}

int ll_to_str(char *buf, size_t cap, long long v) {
    if (v >= 0) return ull_to_str(buf, cap, (unsigned long long)v);
    if (cap < 2) return 0;
    buf[0] = '-';
    int n = ull_to_str(buf + 1, cap - 1, 0 - (unsigned long long)v);
    return n ? n + 1 : 0;
}

int d_to_str(char *buf, size_t cap, double v) {
    if (isnan(v)) return snprintf(buf, cap, "nan");
    if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
    if (v == 0) return snprintf(buf, cap, (1.0 / v < 0) ? "-0" : "0");
    /* Integers that a double holds exactly print without exponent. */
    if (v >= (double)(-LLONG_MAX / 2) && v <= (double)(LLONG_MAX / 2)) {
        long long ll = (long long)v;
        if ((double)ll == v) return ll_to_str(buf, cap, ll);
    }
    return snprintf(buf, cap, "%.17g", v);
}

int d_to_str_17g(char *buf, size_t cap, double v) {
    if (isinf(v)) return snprintf(buf, cap, v < 0 ? "-inf" : "inf");
    if (isnan(v)) return snprintf(buf, cap, "nan");
    return snprintf(buf, cap, "%.17g", v);
}

int ld_to_str_human(char *buf, size_t cap, long double v) {
    size_t len;
    if (isinf(v)) {
        if (cap < 5) return 0;
        len = (size_t)snprintf(buf, cap, v > 0 ? "inf" : "-inf");
        return (int)len;
    }
    int n = snprintf(buf, cap, "%.17Lf", v);
    if (n < 0 || (size_t)n + 1 > cap) return 0;
    len = (size_t)n;
    if (memchr(buf, '.', len) != NULL) {
        while (len > 0 && buf[len - 1] == '0') len--;
        if (len > 0 && buf[len - 1] == '.') len--;
    }
    if (len == 2 && buf[0] == '-' && buf[1] == '0') {
        buf[0] = '0';
        len = 1;
    }
    buf[len] = '\0';
    return (int)len;
}

/* ---- glob ---------------------------------------------------------------- */

static inline int fold(int c, bool nocase) { return nocase ? tolower(c) : c; }

/* Match one pattern element starting at pat[*pp] against character c and
 * advance *pp past it. Elements: '?', '[class]', '\x', literal. Characters
 * compare as signed chars, as Redis does. */
static bool match_one(const char *pat, size_t plen, size_t *pp, char c, bool nocase) {
    size_t p = *pp;
    switch (pat[p]) {
    case '?':
        *pp = p + 1;
        return true;
    case '[': {
        p++;
        bool negate = p < plen && pat[p] == '^';
        if (negate) p++;
        bool match = false;
        for (;;) {
            if (p >= plen) break; /* unterminated class: ends with the pattern */
            if (pat[p] == '\\' && plen - p >= 2) {
                p++;
                if (pat[p] == c) match = true;
            } else if (pat[p] == ']') {
                break;
            } else if (plen - p >= 3 && pat[p + 1] == '-') {
                int lo = (signed char)pat[p], hi = (signed char)pat[p + 2], x = (signed char)c;
                if (lo > hi) {
                    int t = lo;
                    lo = hi;
                    hi = t;
                }
                if (nocase) {
                    lo = tolower(lo);
                    hi = tolower(hi);
                    x = tolower(x);
                }
                if (x >= lo && x <= hi) match = true;
                p += 2;
            } else if (fold((unsigned char)pat[p], nocase) == fold((unsigned char)c, nocase)) {
                match = true;
            }
            p++;
        }
        *pp = p < plen ? p + 1 : plen;
        return negate ? !match : match;
    }
    case '\\':
        if (plen - p >= 2) p++;
        /* fall through */
    default:
        *pp = p + 1;
        return fold((unsigned char)pat[p], nocase) == fold((unsigned char)c, nocase);
    }
}

bool glob_match(const char *pat, size_t plen, const char *s, size_t slen, bool nocase) {
    /* Redis quirk kept on purpose: the empty string matches only the empty
     * pattern (callers special-case "*" where they want "everything"). */
    if (slen == 0) return plen == 0;
    size_t p = 0, i = 0;
    size_t star_p = SIZE_MAX, star_i = 0;
    while (i < slen) {
        if (p < plen && pat[p] == '*') {
            while (p < plen && pat[p] == '*') p++;
            if (p == plen) return true;
            star_p = p;
            star_i = i;
            continue;
        }
        size_t np = p;
        if (p < plen && match_one(pat, plen, &np, s[i], nocase)) {
            p = np;
            i++;
            continue;
        }
        if (star_p == SIZE_MAX) return false;
        /* Let the last star swallow one more character and retry. */
        p = star_p;
        i = ++star_i;
    }
    while (p < plen && pat[p] == '*') p++;
    return p == plen;
}

void str_lower(char *s, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (s[i] >= 'A' && s[i] <= 'Z') s[i] = (char)(s[i] + 32);
}

bool str_eq_nocase(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    return alen == blen && strncasecmp(a, b, alen) == 0;
}

bool str_to_memsize(const char *s, size_t n, long long *out) {
    static const struct {
        const char *suffix;
        long long mul;
    } units[] = {{"gb", 1024LL * 1024 * 1024}, {"mb", 1024LL * 1024}, {"kb", 1024},
                 {"g", 1000LL * 1000 * 1000},  {"m", 1000LL * 1000},   {"k", 1000},
                 {"b", 1}};
    long long mul = 1;
    size_t digits = n;
    for (size_t u = 0; u < ARRAY_LEN(units); u++) {
        size_t sl = strlen(units[u].suffix);
        if (n > sl && strncasecmp(s + n - sl, units[u].suffix, sl) == 0) {
            mul = units[u].mul;
            digits = n - sl;
            break;
        }
    }
    long long v;
    if (!str_to_ll(s, digits, &v)) return false;
    if (v != 0 && (v > LLONG_MAX / mul || v < LLONG_MIN / mul)) return false;
    *out = v * mul;
    return true;
}
