/* arena.c - chunked bump allocator with a ceiling. */
#include "arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_CHUNK_MIN 4096
#define ARENA_ALIGN 16

struct bk_arena_chunk {
    bk_arena_chunk *next;
    size_t size; /* usable bytes in data */
    size_t off;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

void bk_arena_init(bk_arena *arena, size_t max_bytes) {
    arena->head = NULL;
    arena->used = 0;
    arena->max_bytes = max_bytes;
}

void *bk_arena_alloc(bk_arena *arena, size_t size) {
    if (size > SIZE_MAX - ARENA_ALIGN) return NULL;
    size_t rounded = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (arena->max_bytes && rounded > arena->max_bytes - arena->used) return NULL;
    bk_arena_chunk *c = arena->head;
    if (!c || c->size - c->off < rounded) {
        size_t want = c ? c->size * 2 : ARENA_CHUNK_MIN;
        if (want < rounded) want = rounded;
        if (want > SIZE_MAX - sizeof(*c)) return NULL;
        c = malloc(sizeof(*c) + want);
        if (!c) return NULL;
        c->next = arena->head;
        c->size = want;
        c->off = 0;
        arena->head = c;
    }
    void *p = c->data + c->off;
    c->off += rounded;
    arena->used += rounded;
    memset(p, 0, size);
    return p;
}

void *bk_arena_dup(bk_arena *arena, const void *src, size_t n) {
    void *p = bk_arena_alloc(arena, n ? n : 1);
    if (p && n) memcpy(p, src, n);
    return p;
}

void bk_arena_reset(bk_arena *arena) {
    bk_arena_chunk *c = arena->head;
    if (!c) return;
    /* Keep the newest (largest) chunk: the next request is likely similar. */
    bk_arena_chunk *next = c->next;
    c->next = NULL;
    c->off = 0;
    while (next) {
        bk_arena_chunk *n = next->next;
        free(next);
        next = n;
    }
    arena->used = 0;
}

void bk_arena_free(bk_arena *arena) {
    bk_arena_chunk *c = arena->head;
    while (c) {
        bk_arena_chunk *n = c->next;
        free(c);
        c = n;
    }
    arena->head = NULL;
    arena->used = 0;
}
