/*
 * proto/mcbin.h - the memcached binary protocol: packet headers in, response
 * packets out.
 *
 * Every packet is a 24-byte header followed by `bodylen` bytes: extras
 * (extlen), then the key (keylen), then the value (the rest). Multi-byte
 * fields are big-endian.
 *
 *   0      1       2-3     4       5         6-7             8-11     12-15   16-23
 *   magic  opcode  keylen  extlen  datatype  vbucket/status  bodylen  opaque  cas
 *
 * Requests carry magic 0x80, responses 0x81. The quiet opcodes (GETQ, SETQ,
 * ...) answer only misses/errors (gets) or only errors (updates); what each
 * opcode means is cmd/memcache_bin.c's business. This module only decodes
 * and encodes, with the opcode and status numbers of memcached 1.6.
 *
 * Thread context: [any].
 */
#ifndef STASH_PROTO_MCBIN_H
#define STASH_PROTO_MCBIN_H

#include "base/common.h"
#include "base/obuf.h"

#define MCBIN_HEADER 24
#define MCBIN_REQ 0x80
#define MCBIN_RES 0x81

enum mcbin_op {
    MCBIN_GET = 0x00, MCBIN_SET = 0x01, MCBIN_ADD = 0x02, MCBIN_REPLACE = 0x03, MCBIN_DELETE = 0x04,
    MCBIN_INCREMENT = 0x05, MCBIN_DECREMENT = 0x06, MCBIN_QUIT = 0x07, MCBIN_FLUSH = 0x08, MCBIN_GETQ = 0x09,
    MCBIN_NOOP = 0x0a, MCBIN_VERSION = 0x0b, MCBIN_GETK = 0x0c, MCBIN_GETKQ = 0x0d, MCBIN_APPEND = 0x0e,
    MCBIN_PREPEND = 0x0f, MCBIN_STAT = 0x10, MCBIN_SETQ = 0x11, MCBIN_ADDQ = 0x12, MCBIN_REPLACEQ = 0x13,
    MCBIN_DELETEQ = 0x14, MCBIN_INCREMENTQ = 0x15, MCBIN_DECREMENTQ = 0x16, MCBIN_QUITQ = 0x17, MCBIN_FLUSHQ = 0x18,
    MCBIN_APPENDQ = 0x19, MCBIN_PREPENDQ = 0x1a, MCBIN_TOUCH = 0x1c, MCBIN_GAT = 0x1d, MCBIN_GATQ = 0x1e,
    MCBIN_SASL_LIST_MECHS = 0x20, MCBIN_SASL_AUTH = 0x21, MCBIN_SASL_STEP = 0x22, MCBIN_GATK = 0x23,
    MCBIN_GATKQ = 0x24,
};

enum mcbin_status {
    MCBIN_OK = 0x00,
    MCBIN_KEY_ENOENT = 0x01,
    MCBIN_KEY_EEXISTS = 0x02,
    MCBIN_E2BIG = 0x03,
    MCBIN_EINVAL = 0x04,
    MCBIN_NOT_STORED = 0x05,
    MCBIN_DELTA_BADVAL = 0x06,
    MCBIN_AUTH_ERROR = 0x20,
    MCBIN_AUTH_CONTINUE = 0x21,
    MCBIN_UNKNOWN_COMMAND = 0x81,
    MCBIN_ENOMEM = 0x82,
};

struct mcbin_header {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;
    uint16_t vbucket; /* status in responses */
    uint32_t bodylen;
    uint32_t opaque;  /* copied back as is (kept in network order) */
    uint64_t cas;
};

/* Decode the header at p (MCBIN_HEADER bytes). */
void mcbin_parse_header(const unsigned char *p, struct mcbin_header *h);

/* The quiet opcode's loud form (GETQ -> GET, ...); *quiet tells whether it was quiet. */
uint8_t mcbin_unquiet(uint8_t op, bool *quiet);

/* memcached's default text of an error status ("Not found", ...). */
const char *mcbin_status_text(uint16_t status);

/* Append a response header: opcode and opaque echo the request. */
void mcbin_w_header(struct obuf *ob, uint8_t opcode, uint16_t status, uint8_t extlen, uint16_t keylen,
                    uint32_t bodylen, uint32_t opaque, uint64_t cas);
/* A whole error response whose body is the status's text (or `text`). */
void mcbin_w_error(struct obuf *ob, uint8_t opcode, uint16_t status, uint32_t opaque, const char *text);

static inline uint32_t mcbin_get32(const unsigned char *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline uint64_t mcbin_get64(const unsigned char *p) {
    return (uint64_t)mcbin_get32(p) << 32 | mcbin_get32(p + 4);
}
static inline void mcbin_put32(unsigned char *p, uint32_t v) {
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}
static inline void mcbin_put64(unsigned char *p, uint64_t v) {
    mcbin_put32(p, (uint32_t)(v >> 32));
    mcbin_put32(p + 4, (uint32_t)v);
}

#endif
