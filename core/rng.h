/* SPDX-License-Identifier: MIT
 *
 * rng.h: reproducible random streams. Every draw in memxbar comes from the
 * counter-based Philox4x32-10 generator (Random123, Salmon et al., SC'11),
 * keyed by (root seed, named stream, work item). A stream is a pure function
 * of those three values, so the same seed gives bit-identical results at any
 * thread or MPI rank count, and adding draws to one stage leaves the others
 * untouched.
 *
 * Key   = the 64-bit root seed (two 32-bit words).
 * Counter = {block index, stream id, item low word, item high word}.
 * The stream id is the FNV-1a hash of the stream's name ("device.program",
 * "snn.encode", ...). A stream yields 2^32 blocks of 4 words per item.
 */
#ifndef MX_RNG_H
#define MX_RNG_H

#include <stddef.h>
#include <stdint.h>

typedef struct mx_rng {
    uint32_t key[2];
    uint32_t ctr[4];  /* ctr[0] = next block index */
    uint32_t buf[4];  /* the current block's output */
    unsigned pos;     /* next unused word in buf (4 = empty) */
    int have_spare;   /* Box-Muller's second normal is cached */
    double spare;
} mx_rng;

/* 32-bit id of a named stream (FNV-1a of the name). */
uint32_t mx_stream_id(const char *name);

/* Position `r` at the start of stream (seed, stream_id, item). */
void mx_rng_init(mx_rng *r, uint64_t seed, uint32_t stream_id, uint64_t item);

/* Convenience: mx_rng_init with mx_stream_id(name). */
void mx_rng_init_named(mx_rng *r, uint64_t seed, const char *name, uint64_t item);

/* Compute the next block into buf (internal; used by the inline fast path). */
void mx_rng_refill(mx_rng *r);

/* Next 32 random bits. Inline: the encoder draws one per input per step. */
static inline uint32_t mx_rng_u32(mx_rng *r)
{
    if (r->pos >= 4)
        mx_rng_refill(r);
    return r->buf[r->pos++];
}

/* The next whole block of 4 words (any partly used block is skipped), for
 * models that spend exactly one block per item (one cell, one neuron). */
void mx_rng_block(mx_rng *r, uint32_t out[4]);

/* A u32 as a uniform on the open interval (0, 1). */
static inline double mx_u01(uint32_t u) { return ((double)u + 0.5) * (1.0 / 4294967296.0); }

/* Uniform on the open interval (0, 1), 32 bits of resolution. */
double mx_rng_uniform(mx_rng *r);

/* Standard normal N(0, 1) (Box-Muller on two open-interval uniforms). */
double mx_rng_normal(mx_rng *r);

/* Fill out[0..n) with N(0, 1) draws as float. Same values as n calls of
 * mx_rng_normal, written to a block. */
void mx_rng_normal_fill(mx_rng *r, float *out, size_t n);

/* Fill out[0..n) with N(0, 1) draws, fast: whole Philox blocks from the
 * next one on (any partly used block is skipped, as mx_rng_block), each
 * block's words (w0, w1, w2, w3) giving out[4i..4i+3] by Box-Muller in
 * float, (w0, w1) → (r·cos θ, r·sin θ), (w2, w3) likewise, with r =
 * √(−2 ln((w0 + ½)·2^−32)), θ = 2π·((w1 >> 8) + ½)·2^−24. ⌈n/4⌉ blocks
 * per call (a fixed count). Vectorised (AVX2 where the CPU has it, the
 * same bits either way); values within a few float ulps of the exact
 * transform of the same words, not those of mx_rng_normal (core/rng.c
 * gives the accuracy; tests/test_rng.c the Kolmogorov–Smirnov check). */
void mx_rng_normal_fill_fast(mx_rng *r, float *out, size_t n);

/* N(0, 1) from one 32-bit word by inversion: the top bit is the sign, the
 * other 31 bits m the two-sided tail probability t = (m + ½)·2^−31 (in
 * float), |z| = Φ⁻¹(1 − t/2) from a degree-7 polynomial on the segment
 * picked by t's binary exponent (32 segments; within ~2 float ulps of the
 * exact quantile, |z| ≤ 6.34; core/rng.c gives the fit). */
float mx_normal_from_u32(uint32_t w);

/* Fill out[0..n) with N(0, 1) draws, one word each: whole Philox blocks from
 * the next one on (any partly used block skipped, as mx_rng_block), out[i] =
 * mx_normal_from_u32 of the i-th of their words; ⌈n/4⌉ blocks per call (a
 * fixed count). Other values than mx_rng_normal_fill_fast's Box-Muller, the
 * same distribution to the tests' resolution (tests/test_rng.c: KS, tails,
 * moments), at about half its cost: the per-cell read noise of
 * mx_matmul_forward. Vectorised (AVX-512 where present), the same bits in
 * every build. */
void mx_rng_normal_fill_icdf(mx_rng *r, float *out, size_t n);

/* The raw words of the next n_blocks whole blocks (any partly used block
 * skipped), 4 per block in order: what n_blocks calls of mx_rng_block give. */
void mx_rng_philox_words(mx_rng *r, uint32_t *out, size_t n_blocks);

/* out[0..n) = the next n words of the stream: the same values, and the same
 * stream state after, as n calls of mx_rng_u32 (the rest of a partly used
 * block first, then whole blocks computed in vectorised batches, then part
 * of one more block whose remaining words the next draw takes). */
void mx_rng_u32_fill(mx_rng *r, uint32_t *out, size_t n);

/* order ← a uniformly random permutation of 0..n−1 (Fisher–Yates; each
 * swap index from one 32-bit draw by multiply-shift range reduction, so its
 * probability is 1/i to within a relative i/2^32: 1.4e-5 at 60 000). One
 * draw per element after the first: a fixed count per call. */
void mx_rng_permutation(mx_rng *r, size_t *order, size_t n);

/* Bernoulli(p) as a uint32 threshold compare: true with probability p
 * (p clamped to [0, 1]). */
int mx_rng_bernoulli(mx_rng *r, double p);

#endif /* MX_RNG_H */
