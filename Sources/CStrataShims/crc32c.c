// CRC-32C for RecordBatch v2. Three implementations that must agree:
//  - portable slicing-by-8 tables;
//  - SSE4.2 crc32 instruction, one stream;
//  - SSE4.2 with three independent streams over adjacent blocks, recombined with a precomputed
//    "append N zero bytes" operator (linear algebra over GF(2)), which hides the instruction's
//    3-cycle latency.
//  - carry-less multiplication folding (AVX2 + VPCLMULQDQ, 128 bytes per step in four 256-bit
//    accumulators) for long buffers, finishing with the crc32 instruction on the folded block.
// The register convention inside this file is the raw (pre-inverted) state; the public functions
// invert on entry and exit so callers see zlib-style chaining (crc = 0 to start).
#include "CStrataShims.h"
#include <string.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <immintrin.h>
#include <nmmintrin.h>
#define STRATA_HAVE_SSE42_PATH 1
#else
#define STRATA_HAVE_SSE42_PATH 0
#endif

#define POLY 0x82F63B78u
#define LONG_BLOCK 8192
#define SHORT_BLOCK 256

static uint32_t table8[8][256];
static uint32_t zeros_long[4][256];
static uint32_t zeros_short[4][256];
static int hw_available;
static int fold_available;
// Fold constants as pairs {low-qword multiplier, high-qword multiplier} per fold distance.
static uint64_t fold_by_128[2]; // four 256-bit accumulators advance 128 bytes
static uint64_t fold_by_16[2];  // one 128-bit block folded into the next

// --- GF(2) 32x32 matrix helpers (column n = image of bit n) ---
static uint32_t gf2_times(const uint32_t *mat, uint32_t vec) {
    uint32_t sum = 0;
    while (vec) {
        if (vec & 1) sum ^= *mat;
        vec >>= 1;
        mat++;
    }
    return sum;
}

static void gf2_square(uint32_t *square, const uint32_t *mat) {
    for (int n = 0; n < 32; n++) square[n] = gf2_times(mat, mat[n]);
}

// Operator that advances a raw CRC register over `len` zero bytes.
static void zeros_operator(uint32_t *result, size_t len) {
    uint32_t bit[32], two[32], four[32], cur[32], tmp[32];
    bit[0] = POLY;
    for (int n = 1; n < 32; n++) bit[n] = 1u << (n - 1);
    gf2_square(two, bit);
    gf2_square(four, two);
    gf2_square(cur, four); // one zero byte
    for (int n = 0; n < 32; n++) result[n] = 1u << n; // identity
    while (len) {
        if (len & 1) {
            for (int n = 0; n < 32; n++) tmp[n] = gf2_times(cur, result[n]);
            memcpy(result, tmp, sizeof(tmp));
        }
        len >>= 1;
        if (len) {
            gf2_square(tmp, cur);
            memcpy(cur, tmp, sizeof(tmp));
        }
    }
}

static void zeros_table(uint32_t table[4][256], size_t len) {
    uint32_t op[32];
    zeros_operator(op, len);
    for (uint32_t b = 0; b < 256; b++) {
        table[0][b] = gf2_times(op, b);
        table[1][b] = gf2_times(op, b << 8);
        table[2][b] = gf2_times(op, b << 16);
        table[3][b] = gf2_times(op, b << 24);
    }
}

static inline uint32_t shift(const uint32_t table[4][256], uint32_t crc) {
    return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

// x^n mod P (P = x^32 + 0x1EDC6F41, normal bit order), bit-reflected into the high half of a
// qword. Derivation: a 64-bit lane loaded little-endian holds the coefficients of 64 consecutive
// degrees, highest first from bit 0; clmul of a lane by reflect(x^(t-1) mod P) << 32 yields a
// 128-bit block congruent to that lane moved t - 64 bits towards the end of the message (the -1
// absorbs clmul's one-bit shift in reflected order).
static uint64_t fold_constant(unsigned n) {
    uint64_t v = 1;
    for (unsigned k = 0; k < n; k++) {
        v <<= 1;
        if (v & (1ull << 32)) v ^= (1ull << 32) | 0x1EDC6F41ull;
    }
    uint32_t reflected = 0;
    for (int bit = 0; bit < 32; bit++)
        if (v & (1ull << bit)) reflected |= 1u << (31 - bit);
    return (uint64_t)reflected << 32;
}

static void fold_constants(uint64_t pair[2], unsigned distance_bytes) {
    pair[0] = fold_constant(8 * distance_bytes + 63); // low qword: 64 bits further from the end
    pair[1] = fold_constant(8 * distance_bytes - 1);  // high qword
}

__attribute__((constructor)) static void strata_crc32c_init(void) {
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = n;
        for (int k = 0; k < 8; k++) crc = (crc & 1) ? (crc >> 1) ^ POLY : crc >> 1;
        table8[0][n] = crc;
    }
    for (uint32_t n = 0; n < 256; n++) {
        uint32_t crc = table8[0][n];
        for (int k = 1; k < 8; k++) {
            crc = table8[0][crc & 0xff] ^ (crc >> 8);
            table8[k][n] = crc;
        }
    }
    zeros_table(zeros_long, LONG_BLOCK);
    zeros_table(zeros_short, SHORT_BLOCK);
#if STRATA_HAVE_SSE42_PATH
    __builtin_cpu_init();
    hw_available = __builtin_cpu_supports("sse4.2") ? 1 : 0;
    fold_constants(fold_by_128, 128);
    fold_constants(fold_by_16, 16);
    {
        unsigned a, b, c, d;
        int avx2 = __builtin_cpu_supports("avx2");
        int vpclmul = 0, osxsave = 0;
        if (__get_cpuid(1, &a, &b, &c, &d)) osxsave = (c >> 27) & 1;
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) vpclmul = (c >> 10) & 1;
        int ymm_enabled = 0;
        if (osxsave) {
            unsigned lo, hi;
            __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
            ymm_enabled = (lo & 6) == 6; // XMM and YMM state saved by the OS
        }
        fold_available = hw_available && avx2 && vpclmul && ymm_enabled && __builtin_cpu_supports("pclmul");
    }
#else
    hw_available = 0;
#endif
}

int strata_crc32c_hw_available(void) { return hw_available; }

static inline uint64_t load64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint32_t portable_raw(uint32_t crc, const unsigned char *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        crc = table8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
        len--;
    }
    while (len >= 8) {
        uint64_t word = load64(p) ^ crc; // little-endian host assumed (x86_64/arm64)
        crc = table8[7][word & 0xff] ^ table8[6][(word >> 8) & 0xff] ^ table8[5][(word >> 16) & 0xff] ^
              table8[4][(word >> 24) & 0xff] ^ table8[3][(word >> 32) & 0xff] ^
              table8[2][(word >> 40) & 0xff] ^ table8[1][(word >> 48) & 0xff] ^ table8[0][word >> 56];
        p += 8;
        len -= 8;
    }
    while (len--) crc = table8[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

uint32_t strata_crc32c_portable(uint32_t crc, const void *buf, size_t len) {
    return ~portable_raw(~crc, (const unsigned char *)buf, len);
}

#if STRATA_HAVE_SSE42_PATH
__attribute__((target("sse4.2"))) static uint32_t hw_single_raw(uint32_t crc, const unsigned char *p, size_t len) {
    uint64_t c = crc;
    while (len && ((uintptr_t)p & 7)) {
        c = _mm_crc32_u8((uint32_t)c, *p++);
        len--;
    }
    while (len >= 8) {
        c = _mm_crc32_u64(c, load64(p));
        p += 8;
        len -= 8;
    }
    while (len--) c = _mm_crc32_u8((uint32_t)c, *p++);
    return (uint32_t)c;
}

__attribute__((target("sse4.2"))) static uint32_t hw_interleaved_raw(uint32_t crc, const unsigned char *p, size_t len) {
    while (len && ((uintptr_t)p & 7)) {
        crc = _mm_crc32_u8(crc, *p++);
        len--;
    }
    while (len >= 3 * LONG_BLOCK) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        const unsigned char *end = p + LONG_BLOCK;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + LONG_BLOCK));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * LONG_BLOCK));
            p += 8;
        } while (p < end);
        crc = shift(zeros_long, (uint32_t)c0) ^ (uint32_t)c1;
        crc = shift(zeros_long, crc) ^ (uint32_t)c2;
        p += 2 * LONG_BLOCK;
        len -= 3 * LONG_BLOCK;
    }
    while (len >= 3 * SHORT_BLOCK) {
        uint64_t c0 = crc, c1 = 0, c2 = 0;
        const unsigned char *end = p + SHORT_BLOCK;
        do {
            c0 = _mm_crc32_u64(c0, load64(p));
            c1 = _mm_crc32_u64(c1, load64(p + SHORT_BLOCK));
            c2 = _mm_crc32_u64(c2, load64(p + 2 * SHORT_BLOCK));
            p += 8;
        } while (p < end);
        crc = shift(zeros_short, (uint32_t)c0) ^ (uint32_t)c1;
        crc = shift(zeros_short, crc) ^ (uint32_t)c2;
        p += 2 * SHORT_BLOCK;
        len -= 3 * SHORT_BLOCK;
    }
    return hw_single_raw(crc, p, len);
}

#define FOLD_MIN 512

__attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2"))) static inline __m256i
fold256(__m256i x, __m256i k) {
    return _mm256_xor_si256(_mm256_clmulepi64_epi128(x, k, 0x00), _mm256_clmulepi64_epi128(x, k, 0x11));
}

__attribute__((target("pclmul,sse4.2"))) static inline __m128i fold128(__m128i x, __m128i k) {
    return _mm_xor_si128(_mm_clmulepi64_si128(x, k, 0x00), _mm_clmulepi64_si128(x, k, 0x11));
}

// Folds whole 128-byte steps of `p` (len >= FOLD_MIN), then hands the folded 16-byte block and the
// remaining tail to the crc32 instruction. The raw register enters by XOR into the first 4 bytes.
__attribute__((target("avx2,vpclmulqdq,pclmul,sse4.2"))) static uint32_t fold_raw(uint32_t crc,
                                                                                   const unsigned char *p,
                                                                                   size_t len) {
    const __m256i k128 = _mm256_set_epi64x((long long)fold_by_128[1], (long long)fold_by_128[0],
                                           (long long)fold_by_128[1], (long long)fold_by_128[0]);
    const __m128i k16 = _mm_set_epi64x((long long)fold_by_16[1], (long long)fold_by_16[0]);
    __m256i a0 = _mm256_loadu_si256((const __m256i *)p);
    __m256i a1 = _mm256_loadu_si256((const __m256i *)(p + 32));
    __m256i a2 = _mm256_loadu_si256((const __m256i *)(p + 64));
    __m256i a3 = _mm256_loadu_si256((const __m256i *)(p + 96));
    a0 = _mm256_xor_si256(a0, _mm256_set_epi64x(0, 0, 0, (long long)crc));
    p += 128;
    len -= 128;
    while (len >= 128) {
        a0 = _mm256_xor_si256(fold256(a0, k128), _mm256_loadu_si256((const __m256i *)p));
        a1 = _mm256_xor_si256(fold256(a1, k128), _mm256_loadu_si256((const __m256i *)(p + 32)));
        a2 = _mm256_xor_si256(fold256(a2, k128), _mm256_loadu_si256((const __m256i *)(p + 64)));
        a3 = _mm256_xor_si256(fold256(a3, k128), _mm256_loadu_si256((const __m256i *)(p + 96)));
        p += 128;
        len -= 128;
    }
    // Eight consecutive 16-byte blocks: fold each into the next.
    __m128i blocks[8] = {
        _mm256_castsi256_si128(a0), _mm256_extracti128_si256(a0, 1), _mm256_castsi256_si128(a1),
        _mm256_extracti128_si256(a1, 1), _mm256_castsi256_si128(a2), _mm256_extracti128_si256(a2, 1),
        _mm256_castsi256_si128(a3), _mm256_extracti128_si256(a3, 1),
    };
    __m128i x = blocks[0];
    for (int i = 1; i < 8; i++) x = _mm_xor_si128(fold128(x, k16), blocks[i]);
    uint64_t c = _mm_crc32_u64(0, (uint64_t)_mm_cvtsi128_si64(x));
    c = _mm_crc32_u64(c, (uint64_t)_mm_extract_epi64(x, 1));
    return hw_interleaved_raw((uint32_t)c, p, len);
}
#endif

int strata_crc32c_fold_available(void) { return fold_available; }

uint32_t strata_crc32c_fold(uint32_t crc, const void *buf, size_t len) {
#if STRATA_HAVE_SSE42_PATH
    if (len >= FOLD_MIN) return ~fold_raw(~crc, (const unsigned char *)buf, len);
    return ~hw_interleaved_raw(~crc, (const unsigned char *)buf, len);
#else
    return strata_crc32c_portable(crc, buf, len);
#endif
}

uint32_t strata_crc32c_hw_single(uint32_t crc, const void *buf, size_t len) {
#if STRATA_HAVE_SSE42_PATH
    return ~hw_single_raw(~crc, (const unsigned char *)buf, len);
#else
    return strata_crc32c_portable(crc, buf, len);
#endif
}

uint32_t strata_crc32c_hw_interleaved(uint32_t crc, const void *buf, size_t len) {
#if STRATA_HAVE_SSE42_PATH
    return ~hw_interleaved_raw(~crc, (const unsigned char *)buf, len);
#else
    return strata_crc32c_portable(crc, buf, len);
#endif
}

uint32_t strata_crc32c(uint32_t crc, const void *buf, size_t len) {
#if STRATA_HAVE_SSE42_PATH
    if (fold_available && len >= FOLD_MIN) return ~fold_raw(~crc, (const unsigned char *)buf, len);
    if (hw_available) return ~hw_interleaved_raw(~crc, (const unsigned char *)buf, len);
#endif
    return ~portable_raw(~crc, (const unsigned char *)buf, len);
}
