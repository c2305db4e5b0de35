/*
 * bench/stash-benchmark/report.c - results: merging, and the summary as
 * text, CSV or JSON; the progress line.
 *
 * Counting (every request ends in exactly one bucket):
 *   requests  = ok + misses + errors + mismatches + lost
 *   verified  = ok + misses          (replies of the expected type/content)
 *   failures  = errors + mismatches + lost
 * Throughput counts verified replies only: an error is never a success.
 * Latencies are of verified replies, in milliseconds; the JSON summary adds
 * a percentile curve (50, 75, 87.5, ... up to 99.9999 and 100) for plots.
 */
#include "bench.h"

#include "base/alloc.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define HIST_HIGHEST (1ULL << 40) /* ns: about 18 minutes */

static const double pcts[] = {50, 90, 99, 99.9, 99.99};
static const char *const pct_names[] = {"p50", "p90", "p99", "p99.9", "p99.99"};

void sb_result_init(struct sb_result *r, const struct sb_test *t, int precision) {
    memset(r, 0, sizeof(*r));
    r->test = t;
    for (int i = 0; i < t->nops; i++) sb_hist_init(&r->ops[i].hist, precision, HIST_HIGHEST);
    sb_hist_init(&r->all, precision, HIST_HIGHEST);
}

void sb_result_free(struct sb_result *r) {
    for (int i = 0; i < r->test->nops; i++) sb_hist_free(&r->ops[i].hist);
    sb_hist_free(&r->all);
}

void sb_result_sample(struct sb_result *r, const char *msg, size_t len, uint64_t n) {
    if (len >= sizeof(r->samples[0].msg)) len = sizeof(r->samples[0].msg) - 1;
    for (int i = 0; i < r->nsamples; i++) {
        if (strlen(r->samples[i].msg) == len && memcmp(r->samples[i].msg, msg, len) == 0) {
            r->samples[i].count += n;
            return;
        }
    }
    if (r->nsamples == SB_ERR_SAMPLES - 1) {
        /* Full: the last slot sums every further distinct message. */
        static const char other[] = "(other messages)";
        msg = other;
        len = sizeof(other) - 1;
    } else if (r->nsamples == SB_ERR_SAMPLES) {
        r->samples[SB_ERR_SAMPLES - 1].count += n;
        return;
    }
    struct sb_errsample *s = &r->samples[r->nsamples++];
    memcpy(s->msg, msg, len);
    s->msg[len] = 0;
    s->count = n;
}

void sb_result_merge(struct sb_result *dst, const struct sb_result *src) {
    for (int i = 0; i < dst->test->nops; i++) {
        struct sb_opstats *d = &dst->ops[i];
        const struct sb_opstats *s = &src->ops[i];
        d->replies += s->replies;
        d->ok += s->ok;
        d->misses += s->misses;
        d->errors += s->errors;
        d->mismatches += s->mismatches;
        d->checked += s->checked;
        sb_hist_merge(&d->hist, &s->hist);
        sb_hist_merge(&dst->all, &s->hist);
    }
    dst->lost += src->lost;
    dst->protocol += src->protocol;
    for (int i = 0; i < src->nsamples; i++)
        sb_result_sample(dst, src->samples[i].msg, strlen(src->samples[i].msg),
                         src->samples[i].count);
    if (src->end_ns > dst->end_ns) dst->end_ns = src->end_ns;
}

void sb_result_totals(const struct sb_result *r, struct sb_opstats *sum) {
    memset(sum, 0, sizeof(*sum));
    for (int i = 0; i < r->test->nops; i++) {
        const struct sb_opstats *s = &r->ops[i];
        sum->replies += s->replies;
        sum->ok += s->ok;
        sum->misses += s->misses;
        sum->errors += s->errors;
        sum->mismatches += s->mismatches;
        sum->checked += s->checked;
    }
}

uint64_t sb_result_failures(const struct sb_result *r) {
    struct sb_opstats t;
    sb_result_totals(r, &t);
    return t.errors + t.mismatches + r->lost;
}

double sb_result_seconds(const struct sb_result *r) {
    double s = (double)(r->end_ns - r->start_ns) / 1e9;
    return s > 0 ? s : 1e-9;
}

static double ms(uint64_t ns) {
    return (double)ns / 1e6;
}

/* ---- text ------------------------------------------------------------------ */

static void text_latency(const struct sb_hist *h) {
    printf("  latency (ms): avg %.3f  min %.3f", sb_hist_mean(h) / 1e6, ms(h->total ? h->min : 0));
    for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
        if (pcts[i] != 90 && pcts[i] != 99.99)
            printf("  %s %.3f", pct_names[i], ms(sb_hist_percentile(h, pcts[i])));
    printf("  max %.3f\n", ms(h->max));
}

void sb_report_test_text(const struct sb_opts *o, const struct sb_result *r) {
    struct sb_opstats t;
    sb_result_totals(r, &t);
    double secs = sb_result_seconds(r);
    uint64_t verified = t.ok + t.misses, failures = t.errors + t.mismatches + r->lost;
    printf("====== %s ======\n", r->test->name);
    printf(
        "  %llu requests in %.3f s, %d connections, pipeline %d, %d thread%s, %zu-byte values%s\n",
        (unsigned long long)(t.replies + r->lost), secs, o->conns, o->pipeline, o->threads,
        o->threads == 1 ? "" : "s", o->vsize, r->interrupted ? " (interrupted)" : "");
    printf("  throughput: %.2f requests/s\n", (double)verified / secs);
    printf("  verified: %llu (ok %llu, misses %llu, values compared %llu)  failures: %llu "
           "(errors %llu, mismatches %llu, lost %llu)\n",
           (unsigned long long)verified, (unsigned long long)t.ok, (unsigned long long)t.misses,
           (unsigned long long)t.checked, (unsigned long long)failures,
           (unsigned long long)t.errors, (unsigned long long)t.mismatches,
           (unsigned long long)r->lost);
    text_latency(&r->all);
    if (r->test->nops > 1) {
        for (int i = 0; i < r->test->nops; i++) {
            const struct sb_opstats *s = &r->ops[i];
            printf("  %s: %llu verified, %llu failures;", r->test->ops[i].name,
                   (unsigned long long)(s->ok + s->misses),
                   (unsigned long long)(s->errors + s->mismatches));
            text_latency(&s->hist);
        }
    }
    for (int i = 0; i < r->nsamples; i++)
        printf("  error x%llu: %s\n", (unsigned long long)r->samples[i].count, r->samples[i].msg);
    printf("\n");
    fflush(stdout);
}

/* ---- CSV --------------------------------------------------------------------- */

static void csv_row(const char *name, const struct sb_opstats *s, uint64_t lost,
                    const struct sb_hist *h, double secs) {
    printf("\"%s\",%.2f,%.3f,%.3f", name, (double)(s->ok + s->misses) / secs, sb_hist_mean(h) / 1e6,
           ms(h->total ? h->min : 0));
    for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
        printf(",%.3f", ms(sb_hist_percentile(h, pcts[i])));
    printf(",%.3f,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%llu,%.3f\n", ms(h->max),
           (unsigned long long)(s->replies + lost), (unsigned long long)(s->ok + s->misses),
           (unsigned long long)s->ok, (unsigned long long)s->misses, (unsigned long long)s->errors,
           (unsigned long long)s->mismatches, (unsigned long long)lost,
           (unsigned long long)s->checked, secs);
}

static void report_csv(const struct sb_result *res, int n) {
    printf("\"test\",\"rps\",\"avg_ms\",\"min_ms\",\"p50_ms\",\"p90_ms\",\"p99_ms\",\"p99_9_ms\","
           "\"p99_99_ms\",\"max_ms\",\"requests\",\"verified\",\"ok\",\"misses\",\"errors\","
           "\"mismatches\",\"lost\",\"checked\",\"seconds\"\n");
    for (int i = 0; i < n; i++) {
        const struct sb_result *r = &res[i];
        struct sb_opstats t;
        sb_result_totals(r, &t);
        double secs = sb_result_seconds(r);
        csv_row(r->test->name, &t, r->lost, &r->all, secs);
        for (int j = 0; r->test->nops > 1 && j < r->test->nops; j++) {
            char name[160];
            snprintf(name, sizeof(name), "%s/%s", r->test->name, r->test->ops[j].name);
            csv_row(name, &r->ops[j], 0, &r->ops[j].hist, secs);
        }
    }
}

/* ---- JSON -------------------------------------------------------------------- */

static void json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            printf("\\%c", ch);
        else if (ch < 0x20 || ch >= 0x7f)
            printf("\\u%04x", ch);
        else
            putchar(ch);
    }
    putchar('"');
}

static void json_latency(const struct sb_hist *h) {
    printf("{\"avg\": %.6f, \"min\": %.6f", sb_hist_mean(h) / 1e6, ms(h->total ? h->min : 0));
    for (size_t i = 0; i < ARRAY_LEN(pcts); i++)
        printf(", \"%s\": %.6f", pct_names[i], ms(sb_hist_percentile(h, pcts[i])));
    printf(", \"max\": %.6f}", ms(h->max));
}

static void json_counts(const struct sb_opstats *s, uint64_t lost, double secs) {
    uint64_t verified = s->ok + s->misses;
    printf("\"requests\": %llu, \"verified\": %llu, \"ok\": %llu, \"misses\": %llu, "
           "\"errors\": %llu, \"mismatches\": %llu, \"lost\": %llu, \"failures\": %llu, "
           "\"checked\": %llu, \"rps\": %.2f",
           (unsigned long long)(s->replies + lost), (unsigned long long)verified,
           (unsigned long long)s->ok, (unsigned long long)s->misses, (unsigned long long)s->errors,
           (unsigned long long)s->mismatches, (unsigned long long)lost,
           (unsigned long long)(s->errors + s->mismatches + lost), (unsigned long long)s->checked,
           (double)verified / secs);
}

static void json_test(const struct sb_result *r) {
    struct sb_opstats t;
    sb_result_totals(r, &t);
    double secs = sb_result_seconds(r);
    printf("{\"name\": ");
    json_str(r->test->name);
    printf(", \"seconds\": %.6f, ", secs);
    json_counts(&t, r->lost, secs);
    printf(", \"protocol_errors\": %llu, \"interrupted\": %s,\n     \"latency_ms\": ",
           (unsigned long long)r->protocol, r->interrupted ? "true" : "false");
    json_latency(&r->all);
    printf(",\n     \"curve\": [");
    double tail = 1.0;
    for (int i = 0; i <= 20; i++, tail /= 2) {
        double p = 100.0 * (1.0 - tail);
        printf("%s[%.6f, %.6f]", i ? ", " : "", p, ms(sb_hist_percentile(&r->all, p)));
    }
    printf(", [100, %.6f]],\n     \"ops\": {", ms(r->all.max));
    for (int i = 0; i < r->test->nops; i++) {
        printf("%s", i ? ", " : "");
        json_str(r->test->ops[i].name);
        printf(": {");
        json_counts(&r->ops[i], 0, secs);
        printf(", \"latency_ms\": ");
        json_latency(&r->ops[i].hist);
        printf("}");
    }
    printf("},\n     \"error_samples\": [");
    for (int i = 0; i < r->nsamples; i++) {
        printf("%s{\"message\": ", i ? ", " : "");
        json_str(r->samples[i].msg);
        printf(", \"count\": %llu}", (unsigned long long)r->samples[i].count);
    }
    printf("]}");
}

static const char *proto_name(enum sb_proto p) {
    return p == SB_PROTO_RESP ? "resp" : p == SB_PROTO_MC_TEXT ? "memcache-text" : "memcache-meta";
}

static void json_config(const struct sb_opts *o) {
    printf("  \"config\": {\"protocol\": \"%s\", \"host\": ", proto_name(o->proto));
    json_str(o->unix_path ? o->unix_path : o->host);
    printf(", \"port\": %d, \"tls\": %s, \"connections\": %d, \"threads\": %d, \"pipeline\": %d, "
           "\"requests\": %llu, \"duration\": %.3f, \"keyspace\": %llu, \"distribution\": ",
           o->unix_path ? 0 : o->port, o->tls ? "true" : "false", o->conns, o->threads, o->pipeline,
           (unsigned long long)o->requests, o->duration, (unsigned long long)o->keyspace);
    json_str(o->dist);
    printf(
        ", \"value_size\": %zu, \"multi\": %u, \"verify_content\": %s, \"precision_digits\": %d, "
        "\"resp3\": %s},\n",
        o->vsize, o->multi, o->verify_content ? "true" : "false", o->precision,
        o->resp3 ? "true" : "false");
}

static void report_json(const struct sb_opts *o, const struct sb_result *res, int n,
                        const struct sb_result *prefill) {
    uint64_t total = 0, failures = 0;
    printf("{\n  \"tool\": \"stash-benchmark\", \"version\": \"%s\",\n", STASH_VERSION);
    json_config(o);
    printf("  \"prefill\": ");
    if (prefill)
        json_test(prefill);
    else
        printf("null");
    printf(",\n  \"tests\": [\n    ");
    for (int i = 0; i < n; i++) {
        struct sb_opstats t;
        sb_result_totals(&res[i], &t);
        total += t.replies + res[i].lost;
        failures += sb_result_failures(&res[i]);
        if (i) printf(",\n    ");
        json_test(&res[i]);
    }
    printf("\n  ],\n  \"total\": {\"requests\": %llu, \"failures\": %llu}\n}\n",
           (unsigned long long)total, (unsigned long long)failures);
}

void sb_report_all(const struct sb_opts *o, const struct sb_result *res, int n,
                   const struct sb_result *prefill) {
    if (o->format == SB_OUT_CSV) report_csv(res, n);
    if (o->format == SB_OUT_JSON) report_json(o, res, n, prefill);
    fflush(stdout);
}

/* ---- progress ---------------------------------------------------------------- */

void sb_progress(const char *name, uint64_t done, uint64_t failed, double secs, double rps) {
    fprintf(stderr, "\r\033[K%s: %.0f requests/s, %llu done, %llu failed, %.1f s", name, rps,
            (unsigned long long)done, (unsigned long long)failed, secs);
}

void sb_progress_clear(void) {
    fprintf(stderr, "\r\033[K");
}
