/*
 * proto/mcbin.c - memcached binary protocol packets; see mcbin.h.
 */
#include "proto/mcbin.h"

#include <string.h>

void mcbin_parse_header(const unsigned char *p, struct mcbin_header *h) {
    h->magic = p[0];
    h->opcode = p[1];
    h->keylen = (uint16_t)(p[2] << 8 | p[3]);
    h->extlen = p[4];
    h->datatype = p[5];
    h->vbucket = (uint16_t)(p[6] << 8 | p[7]);
    h->bodylen = mcbin_get32(p + 8);
    memcpy(&h->opaque, p + 12, 4);
    h->cas = mcbin_get64(p + 16);
}

uint8_t mcbin_unquiet(uint8_t op, bool *quiet) {
    *quiet = true;
    switch (op) {
    case MCBIN_SETQ: return MCBIN_SET;
    case MCBIN_ADDQ: return MCBIN_ADD;
    case MCBIN_REPLACEQ: return MCBIN_REPLACE;
    case MCBIN_DELETEQ: return MCBIN_DELETE;
    case MCBIN_INCREMENTQ: return MCBIN_INCREMENT;
    case MCBIN_DECREMENTQ: return MCBIN_DECREMENT;
    case MCBIN_QUITQ: return MCBIN_QUIT;
    case MCBIN_FLUSHQ: return MCBIN_FLUSH;
    case MCBIN_APPENDQ: return MCBIN_APPEND;
    case MCBIN_PREPENDQ: return MCBIN_PREPEND;
    case MCBIN_GETQ: return MCBIN_GET;
    case MCBIN_GETKQ: return MCBIN_GETK;
    case MCBIN_GATQ: return MCBIN_GAT;
    case MCBIN_GATKQ: return MCBIN_GATK;
    default: *quiet = false; return op;
    }
}

const char *mcbin_status_text(uint16_t status) {
    switch (status) {
    case MCBIN_ENOMEM: return "Out of memory";
    case MCBIN_UNKNOWN_COMMAND: return "Unknown command";
    case MCBIN_KEY_ENOENT: return "Not found";
    case MCBIN_EINVAL: return "Invalid arguments";
    case MCBIN_KEY_EEXISTS: return "Data exists for key.";
    case MCBIN_E2BIG: return "Too large.";
    case MCBIN_DELTA_BADVAL: return "Non-numeric server-side value for incr or decr";
    case MCBIN_NOT_STORED: return "Not stored.";
    case MCBIN_AUTH_ERROR: return "Auth failure.";
    default: return "UNHANDLED ERROR";
    }
}

void mcbin_w_header(struct obuf *ob, uint8_t opcode, uint16_t status, uint8_t extlen, uint16_t keylen,
                    uint32_t bodylen, uint32_t opaque, uint64_t cas) {
    unsigned char *w = (unsigned char *)obuf_reserve(ob, MCBIN_HEADER);
    w[0] = MCBIN_RES;
    w[1] = opcode;
    w[2] = (unsigned char)(keylen >> 8);
    w[3] = (unsigned char)keylen;
    w[4] = extlen;
    w[5] = 0; /* raw bytes */
    w[6] = (unsigned char)(status >> 8);
    w[7] = (unsigned char)status;
    mcbin_put32(w + 8, bodylen);
    memcpy(w + 12, &opaque, 4);
    mcbin_put64(w + 16, cas);
    obuf_commit(ob, MCBIN_HEADER);
}

void mcbin_w_error(struct obuf *ob, uint8_t opcode, uint16_t status, uint32_t opaque, const char *text) {
    if (text == NULL) text = mcbin_status_text(status);
    size_t n = strlen(text);
    mcbin_w_header(ob, opcode, status, 0, 0, (uint32_t)n, opaque, 0);
    obuf_append(ob, text, n);
}
