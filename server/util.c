/* util.c - logging, clocks, ids and a small hash map for the server. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "server/server.h"

int bk_log_level = BK_LV_INFO;

void bk_logf(int level, const char *fmt, ...) {
    static const char *names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
    if (level < bk_log_level) return;
    char line[1024];
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     ts.tv_nsec / 1000000, names[level & 3]);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = strlen(line);
    line[len++] = '\n';
    /* One write per line, so lines from threads do not interleave. */
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void bk_prop_put(FILE *f, const char *s) {
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\\\", f);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
}

void bk_prop_unescape(char *s) {
    char *o = s;
    for (; *s; s++) {
        if (*s == '\\' && s[1]) {
            s++;
            *o++ = *s == 'n' ? '\n' : *s;
        } else {
            *o++ = *s;
        }
    }
    *o = 0;
}

int64_t bk_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t bk_mono_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void bk_uuid_random(bk_uuid *u) {
    /* Kafka never hands out the zero id nor ids whose text starts with '-'
     * (the first byte's top bits would make base64url start with '-'). */
    do {
        if (getrandom(u->b, sizeof u->b, 0) != (ssize_t)sizeof u->b) {
            for (size_t i = 0; i < sizeof u->b; i++)
                u->b[i] = (uint8_t)rand();
        }
    } while ((u->b[0] >> 2) == 62 || memcmp(u->b, (uint8_t[16]){0}, 16) == 0);
}

char *bk_str_dup(bk_str s) {
    if (s.len < 0) return NULL;
    char *p = malloc((size_t)s.len + 1);
    if (!p) return NULL;
    if (s.len) memcpy(p, s.ptr, (size_t)s.len);
    p[s.len] = 0;
    return p;
}

void bk_uuid_str(const bk_uuid *u, char out[23]) {
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    int o = 0;
    for (int i = 0; i < 16; i += 3) {
        uint32_t v = (uint32_t)u->b[i] << 16;
        if (i + 1 < 16) v |= (uint32_t)u->b[i + 1] << 8;
        if (i + 2 < 16) v |= u->b[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        if (i + 1 < 16) out[o++] = tab[(v >> 6) & 63];
        if (i + 2 < 16) out[o++] = tab[v & 63];
    }
    out[o] = 0;
}

/* ---- map: open addressing, linear probing, FNV-1a ---- */

#define TOMB ((void *)1)

static uint64_t map_hash(const void *key, size_t n) {
    const uint8_t *p = key;
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

static bk_map_slot *map_find(const bk_map *m, const void *key, size_t klen) {
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = map_hash(key, klen) & mask;; i = (i + 1) & mask) {
        bk_map_slot *s = &m->slots[i];
        if (!s->val) return NULL;
        if (s->val != TOMB && s->klen == klen && memcmp(s->key, key, klen) == 0) return s;
    }
}

void *bk_map_get(const bk_map *m, const void *key, size_t klen) {
    bk_map_slot *s = map_find(m, key, klen);
    return s ? s->val : NULL;
}

static int map_grow(bk_map *m) {
    size_t cap = m->cap ? m->cap * 2 : 64;
    if (m->n * 4 < m->cap) cap = m->cap; /* mostly tombstones: rehash in place */
    bk_map_slot *slots = calloc(cap, sizeof *slots);
    if (!slots) return BK_ENOMEM;
    for (size_t i = 0; i < m->cap; i++) {
        bk_map_slot *s = &m->slots[i];
        if (!s->val || s->val == TOMB) continue;
        size_t j = map_hash(s->key, s->klen) & (cap - 1);
        while (slots[j].val)
            j = (j + 1) & (cap - 1);
        slots[j] = *s;
    }
    free(m->slots);
    m->slots = slots;
    m->cap = cap;
    m->tombs = 0;
    return 0;
}

int bk_map_put(bk_map *m, const void *key, size_t klen, void *val) {
    bk_map_slot *s = map_find(m, key, klen);
    if (s) {
        s->key = key;
        s->val = val;
        return 0;
    }
    if ((m->n + m->tombs + 1) * 4 >= m->cap * 3 && map_grow(m)) return BK_ENOMEM;
    size_t mask = m->cap - 1;
    size_t i = map_hash(key, klen) & mask;
    while (m->slots[i].val && m->slots[i].val != TOMB)
        i = (i + 1) & mask;
    if (m->slots[i].val == TOMB) m->tombs--;
    m->slots[i] = (bk_map_slot){key, klen, val};
    m->n++;
    return 0;
}

void bk_map_del(bk_map *m, const void *key, size_t klen) {
    bk_map_slot *s = map_find(m, key, klen);
    if (!s) return;
    s->val = TOMB;
    s->key = NULL;
    m->n--;
    m->tombs++;
}

void bk_map_free(bk_map *m) {
    free(m->slots);
    memset(m, 0, sizeof *m);
}
