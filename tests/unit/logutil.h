/* logutil.h - helpers for storage tests: temp dirs, batches, waiting for flushes. */
#ifndef BK_LOGUTIL_H
#define BK_LOGUTIL_H

#include <stdint.h>

#include "protocol/buf.h"
#include "storage/storage.h"

/* Creates a fresh directory under build/tmp (removed by bk_tmpdir_remove). */
char *bk_tmpdir_make(const char *name);
void bk_tmpdir_remove(char *dir);

/* Appends one uncompressed (codec 0) or compressed batch of `records`
 * records, value `value_bytes` long (filled from `seed`), timestamps ts, ts+1... */
void bk_test_batch(bk_wr *out, int records, int value_bytes, int64_t ts, int codec, unsigned seed);

/* Storage with a quiet logger that counts error lines. */
bk_storage *bk_test_storage(const char *dir, int max_open_segments);
extern int bk_test_storage_errors;

/* Requests a flush to `offset` and runs completions until it answers
 * (at most 10 s); returns the callback's error, or -999 on timeout. */
int bk_test_flush(bk_storage *st, bk_log *log, int64_t offset);
/* Runs completions until *flag is set (at most 10 s); 0 or -999. */
int bk_test_wait(bk_storage *st, volatile int *flag);

/* Copies the regular files of directory `from` into `to` (created when
 * missing). Returns 0 or -1. */
int bk_test_copy_dir(const char *from, const char *to);
/* XORs the byte at `pos` of a file with `mask` (non-zero). Returns 0 or -1. */
int bk_test_flip_byte(const char *path, uint64_t pos, uint8_t mask);
/* The number of descriptors this process has open (the one used to count them excluded). */
int bk_test_fd_count(void);

/*
 * Checks a partition directory on disk: each .log must be whole valid
 * batches (CRC, contiguous increasing offsets from its base); each .index
 * entry must name a batch start whose last offset is base + relative offset,
 * entries strictly increasing; each .timeindex entry must name the last
 * offset of a batch of the segment whose max timestamp is the entry's and the
 * largest so far, timestamps non-decreasing. Returns 0, or -1 with the first
 * problem found in why.
 */
int bk_test_check_partition(const char *pdir, char *why, size_t cap);

#endif
