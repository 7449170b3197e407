/* crc32c.h - CRC-32C (Castagnoli), the checksum of Kafka record batches (magic v2). */
#ifndef BK_CRC32C_H
#define BK_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/*
 * Streaming CRC-32C: start with crc = 0 and feed the data in pieces;
 * bk_crc32c(bk_crc32c(0, a, na), b, nb) equals the CRC of a followed by b.
 * `data` may be NULL when len == 0; any alignment is fine. Thread-safe.
 * Uses the SSE4.2 or ARMv8 CRC instructions when the CPU has them (checked
 * once, at the first call), else a portable slicing-by-8 table.
 */
uint32_t bk_crc32c(uint32_t crc, const void *data, size_t len);

/*
 * CRC of A followed by B, given crc1 = CRC(A), crc2 = CRC(B) and len2 = |B|,
 * without the bytes: O(log len2). With crc2 = 0 it is the operator "append
 * len2 zero bytes to the difference crc1", which is how a patch of a few
 * bytes updates a batch CRC without reading the batch (record.c).
 */
uint32_t bk_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2);

/*
 * Tests and benchmarks: on != 0 forces the portable table code, on == 0
 * returns to the best implementation of this CPU. Affects every thread; call
 * it only while no other thread is computing CRCs.
 */
void bk_crc32c_force_portable(int on);

/* Name of the implementation in use: "sse4.2", "armv8" or "portable". */
const char *bk_crc32c_impl(void);

#endif
