/* arena.h - bump allocator for everything decoded from one request. */
#ifndef BK_ARENA_H
#define BK_ARENA_H

#include <stddef.h>

/*
 * Allocations live until bk_arena_reset or bk_arena_free, which release them
 * all at once: a request's decoded structs, arrays and copies are freed when
 * its response is written. `max_bytes` caps the total, so that a hostile
 * frame cannot make one request take unbounded memory (0 = no cap).
 */
typedef struct bk_arena_chunk bk_arena_chunk;
typedef struct bk_arena {
    bk_arena_chunk *head;
    size_t used;      /* bytes handed out, for the cap */
    size_t max_bytes; /* 0 = unlimited */
} bk_arena;

void bk_arena_init(bk_arena *arena, size_t max_bytes);
/* Returns zeroed, 16-byte aligned memory, or NULL when out of memory or over the cap. */
void *bk_arena_alloc(bk_arena *arena, size_t size);
/* Copies n bytes into the arena (n may be 0). */
void *bk_arena_dup(bk_arena *arena, const void *src, size_t n);
/* Frees every chunk but the first, which is kept for reuse. */
void bk_arena_reset(bk_arena *arena);
void bk_arena_free(bk_arena *arena);

#endif
