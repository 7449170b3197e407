/* crc32c.c - CRC-32C with CPU instructions where present, slicing-by-8 tables elsewhere. */
#include "crc32c.h"

#include <pthread.h>
#include <string.h>

#if defined(__x86_64__)
#include <nmmintrin.h>
#elif defined(__aarch64__)
#include <arm_acle.h>
#if defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_CRC32
#define HWCAP_CRC32 (1 << 7)
#endif
#endif
#endif

/* The Castagnoli polynomial, bit-reflected (bit 31 is x^0), x^32 implied. */
#define POLY 0x82f63b78u

/*
 * Internally every function works on the raw CRC register; bk_crc32c
 * inverts on entry and exit as the CRC-32C definition asks, which is what
 * makes the public value streamable.
 *
 * The hardware paths run three independent CRCs over three adjacent blocks
 * at once, because the CRC instruction has a latency of about three cycles
 * but a throughput of one per cycle. The three results are joined by
 * "shifting" a register over a block of zeros, a linear map that a table
 * of 4 x 256 entries applies in four lookups.
 */
#define LONG_BLOCK  8192u /* bytes per stream for large inputs */
#define SHORT_BLOCK 256u  /* bytes per stream for medium inputs */

typedef uint32_t (*crc_fn)(uint32_t reg, const uint8_t *p, size_t len);

static uint32_t slice8[8][256];
static uint32_t shift_long[4][256];
static uint32_t shift_short[4][256];
static crc_fn best;
static crc_fn active; /* read and written with __atomic builtins */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Product of two polynomials modulo POLY, both in the reflected form. */
static uint32_t gf_mul(uint32_t a, uint32_t b) {
    uint32_t prod = 0;
    for (int i = 0; i < 32; i++) {
        if (a & (0x80000000u >> i)) prod ^= b;
        b = (b & 1) ? (b >> 1) ^ POLY : b >> 1;
    }
    return prod;
}

/* x^(8 n) modulo POLY: the operator "append n zero bytes". */
static uint32_t x_pow_8n(size_t n) {
    uint32_t result = 0x80000000u; /* x^0 */
    uint32_t power = 0x00800000u;  /* x^8 */
    while (n) {
        if (n & 1) result = gf_mul(result, power);
        power = gf_mul(power, power);
        n >>= 1;
    }
    return result;
}

static void build_shift(uint32_t tab[4][256], size_t zeros) {
    uint32_t op = x_pow_8n(zeros);
    for (int k = 0; k < 4; k++)
        for (uint32_t b = 0; b < 256; b++)
            tab[k][b] = gf_mul(op, b << (8 * k));
}

static inline uint32_t shift(const uint32_t tab[4][256], uint32_t reg) {
    return tab[0][reg & 0xff] ^ tab[1][(reg >> 8) & 0xff] ^ tab[2][(reg >> 16) & 0xff] ^
           tab[3][reg >> 24];
}

static inline uint32_t load_le32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t crc_portable(uint32_t reg, const uint8_t *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        reg = slice8[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
        len--;
    }
    while (len >= 8) {
        uint32_t lo = reg ^ load_le32(p), hi = load_le32(p + 4);
        reg = slice8[7][lo & 0xff] ^ slice8[6][(lo >> 8) & 0xff] ^ slice8[5][(lo >> 16) & 0xff] ^
              slice8[4][lo >> 24] ^ slice8[3][hi & 0xff] ^ slice8[2][(hi >> 8) & 0xff] ^
              slice8[1][(hi >> 16) & 0xff] ^ slice8[0][hi >> 24];
        p += 8;
        len -= 8;
    }
    while (len--)
        reg = slice8[0][(reg ^ *p++) & 0xff] ^ (reg >> 8);
    return reg;
}

#if defined(__x86_64__)
static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

__attribute__((target("sse4.2"))) static uint32_t crc_sse42(uint32_t reg, const uint8_t *p,
                                                            size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        reg = _mm_crc32_u8(reg, *p++);
        len--;
    }
    uint64_t r0 = reg;
    while (len >= 3 * LONG_BLOCK) {
        uint64_t r1 = 0, r2 = 0;
        for (const uint8_t *end = p + LONG_BLOCK; p < end; p += 8) {
            r0 = _mm_crc32_u64(r0, load64(p));
            r1 = _mm_crc32_u64(r1, load64(p + LONG_BLOCK));
            r2 = _mm_crc32_u64(r2, load64(p + 2 * LONG_BLOCK));
        }
        r0 = shift(shift_long, (uint32_t)r0) ^ r1;
        r0 = shift(shift_long, (uint32_t)r0) ^ r2;
        p += 2 * LONG_BLOCK;
        len -= 3 * LONG_BLOCK;
    }
    while (len >= 3 * SHORT_BLOCK) {
        uint64_t r1 = 0, r2 = 0;
        for (const uint8_t *end = p + SHORT_BLOCK; p < end; p += 8) {
            r0 = _mm_crc32_u64(r0, load64(p));
            r1 = _mm_crc32_u64(r1, load64(p + SHORT_BLOCK));
            r2 = _mm_crc32_u64(r2, load64(p + 2 * SHORT_BLOCK));
        }
        r0 = shift(shift_short, (uint32_t)r0) ^ r1;
        r0 = shift(shift_short, (uint32_t)r0) ^ r2;
        p += 2 * SHORT_BLOCK;
        len -= 3 * SHORT_BLOCK;
    }
    for (; len >= 8; p += 8, len -= 8)
        r0 = _mm_crc32_u64(r0, load64(p));
    reg = (uint32_t)r0;
    while (len--)
        reg = _mm_crc32_u8(reg, *p++);
    return reg;
}

static crc_fn detect(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("sse4.2") ? crc_sse42 : crc_portable;
}

#elif defined(__aarch64__)
/* Clang's arm_acle.h declares the CRC intrinsics only when the whole file
 * is built for a CPU with CRC, so it gets its builtins directly. */
#if defined(__clang__)
#define ARM_CRC_TARGET     "crc"
#define CRC32CB(reg, byte) __builtin_arm_crc32cb(reg, byte)
#define CRC32CD(reg, word) __builtin_arm_crc32cd(reg, word)
#else
#define ARM_CRC_TARGET     "+crc"
#define CRC32CB(reg, byte) __crc32cb(reg, byte)
#define CRC32CD(reg, word) __crc32cd(reg, word)
#endif

static inline uint64_t load64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* Same shape as the x86 path, with ARMv8's CRC32C instructions. */
__attribute__((target(ARM_CRC_TARGET))) static uint32_t crc_armv8(uint32_t reg, const uint8_t *p,
                                                                  size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        reg = CRC32CB(reg, *p++);
        len--;
    }
    while (len >= 3 * LONG_BLOCK) {
        uint32_t r1 = 0, r2 = 0;
        for (const uint8_t *end = p + LONG_BLOCK; p < end; p += 8) {
            reg = CRC32CD(reg, load64(p));
            r1 = CRC32CD(r1, load64(p + LONG_BLOCK));
            r2 = CRC32CD(r2, load64(p + 2 * LONG_BLOCK));
        }
        reg = shift(shift_long, reg) ^ r1;
        reg = shift(shift_long, reg) ^ r2;
        p += 2 * LONG_BLOCK;
        len -= 3 * LONG_BLOCK;
    }
    while (len >= 3 * SHORT_BLOCK) {
        uint32_t r1 = 0, r2 = 0;
        for (const uint8_t *end = p + SHORT_BLOCK; p < end; p += 8) {
            reg = CRC32CD(reg, load64(p));
            r1 = CRC32CD(r1, load64(p + SHORT_BLOCK));
            r2 = CRC32CD(r2, load64(p + 2 * SHORT_BLOCK));
        }
        reg = shift(shift_short, reg) ^ r1;
        reg = shift(shift_short, reg) ^ r2;
        p += 2 * SHORT_BLOCK;
        len -= 3 * SHORT_BLOCK;
    }
    for (; len >= 8; p += 8, len -= 8)
        reg = CRC32CD(reg, load64(p));
    while (len--)
        reg = CRC32CB(reg, *p++);
    return reg;
}

static crc_fn detect(void) {
#if defined(__ARM_FEATURE_CRC32) || defined(__APPLE__)
    return crc_armv8;
#elif defined(__linux__)
    return (getauxval(AT_HWCAP) & HWCAP_CRC32) ? crc_armv8 : crc_portable;
#else
    return crc_portable;
#endif
}

#else
static crc_fn detect(void) {
    return crc_portable;
}
#endif

static void init(void) {
    for (uint32_t b = 0; b < 256; b++) {
        uint32_t c = b;
        for (int i = 0; i < 8; i++)
            c = (c & 1) ? (c >> 1) ^ POLY : c >> 1;
        slice8[0][b] = c;
    }
    for (int k = 1; k < 8; k++)
        for (int b = 0; b < 256; b++)
            slice8[k][b] = (slice8[k - 1][b] >> 8) ^ slice8[0][slice8[k - 1][b] & 0xff];
    build_shift(shift_long, LONG_BLOCK);
    build_shift(shift_short, SHORT_BLOCK);
    best = detect();
    __atomic_store_n(&active, best, __ATOMIC_RELEASE);
}

static crc_fn current(void) {
    crc_fn fn = __atomic_load_n(&active, __ATOMIC_ACQUIRE);
    if (fn) return fn;
    pthread_once(&init_once, init);
    return __atomic_load_n(&active, __ATOMIC_ACQUIRE);
}

uint32_t bk_crc32c(uint32_t crc, const void *data, size_t len) {
    if (!len) return crc;
    return ~current()(~crc, (const uint8_t *)data, len);
}

uint32_t bk_crc32c_combine(uint32_t crc1, uint32_t crc2, size_t len2) {
    return gf_mul(x_pow_8n(len2), crc1) ^ crc2;
}

void bk_crc32c_force_portable(int on) {
    pthread_once(&init_once, init);
    __atomic_store_n(&active, on ? crc_portable : best, __ATOMIC_RELEASE);
}

const char *bk_crc32c_impl(void) {
    crc_fn fn = current();
    if (fn == crc_portable) return "portable";
#if defined(__x86_64__)
    return "sse4.2";
#else
    return "armv8";
#endif
}
