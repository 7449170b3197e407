/* err.c - names of error codes and the C-error to Kafka-error mapping. */
#include "err.h"

#include <stddef.h>

const char *bk_strerror(int err) {
    switch (err) {
    case BK_OK: return "success";
    case BK_ETRUNC: return "input truncated";
    case BK_EINVAL: return "malformed field";
    case BK_ENOMEM: return "out of memory or memory ceiling reached";
    case BK_ECRC: return "CRC mismatch";
    case BK_EVERSION: return "unsupported version";
    case BK_ETOOBIG: return "size above the configured maximum";
    case BK_ECORRUPT: return "corrupt record batch";
    case BK_ECOMPRESS: return "invalid compressed data";
    case BK_ECODEC: return "unknown compression codec";
    case BK_EUNKNOWN_API: return "unknown API key";
    case BK_EIO: return "storage error";
    case BK_ERANGE: return "offset out of range";
    case BK_ENOENT: return "not found";
    case BK_ECLOSED: return "closed";
    default: return "unknown error";
    }
}

int16_t bk_err_to_kafka(int err) {
    switch (err) {
    case BK_OK: return BK_KERR_NONE;
    case BK_ECRC:
    case BK_ECORRUPT:
    case BK_ECOMPRESS: return BK_KERR_CORRUPT_MESSAGE;
    case BK_ECODEC: return BK_KERR_UNSUPPORTED_COMPRESSION_TYPE;
    case BK_ETOOBIG: return BK_KERR_MESSAGE_TOO_LARGE;
    case BK_EVERSION:
    case BK_EUNKNOWN_API: return BK_KERR_UNSUPPORTED_VERSION;
    case BK_ETRUNC:
    case BK_EINVAL: return BK_KERR_INVALID_REQUEST;
    case BK_EIO: return BK_KERR_KAFKA_STORAGE_ERROR;
    case BK_ERANGE: return BK_KERR_OFFSET_OUT_OF_RANGE;
    case BK_ENOENT: return BK_KERR_UNKNOWN_TOPIC_OR_PARTITION;
    default: return BK_KERR_UNKNOWN_SERVER_ERROR;
    }
}

const char *bk_kerr_name(int16_t code) {
    switch (code) {
#define BK_KERR_CASE(name, c)                                                                      \
    case c: return #name;
        BK_KERR_LIST(BK_KERR_CASE)
#undef BK_KERR_CASE
    default: return NULL;
    }
}
