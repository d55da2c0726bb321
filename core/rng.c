/* SPDX-License-Identifier: MIT
 *
 * rng.c: Philox4x32-10 streams over Random123's reference implementation
 * (Debian librandom123-dev), the uniform and normal transforms, and the
 * stream-name hash. See rng.h for the keying scheme.
 */
#include "core/rng.h"

#include <math.h>

#include <Random123/philox.h>

#define FNV1A_OFFSET_BASIS 2166136261u
#define FNV1A_PRIME 16777619u

uint32_t mx_stream_id(const char *name)
{
    uint32_t h = FNV1A_OFFSET_BASIS;
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        h ^= *p;
        h *= FNV1A_PRIME;
    }
    return h;
}

void mx_rng_init(mx_rng *r, uint64_t seed, uint32_t stream_id, uint64_t item)
{
    r->key[0] = (uint32_t)seed;
    r->key[1] = (uint32_t)(seed >> 32);
    r->ctr[0] = 0;
    r->ctr[1] = stream_id;
    r->ctr[2] = (uint32_t)item;
    r->ctr[3] = (uint32_t)(item >> 32);
    r->pos = 4;
    r->have_spare = 0;
    r->spare = 0.0;
}

void mx_rng_init_named(mx_rng *r, uint64_t seed, const char *name, uint64_t item)
{
    mx_rng_init(r, seed, mx_stream_id(name), item);
}

void mx_rng_refill(mx_rng *r)
{
    philox4x32_ctr_t c = {{r->ctr[0], r->ctr[1], r->ctr[2], r->ctr[3]}};
    philox4x32_key_t k = {{r->key[0], r->key[1]}};
    philox4x32_ctr_t out = philox4x32(c, k);
    for (int i = 0; i < 4; i++)
        r->buf[i] = out.v[i];
    r->ctr[0]++;
    r->pos = 0;
}

void mx_rng_block(mx_rng *r, uint32_t out[4])
{
    mx_rng_refill(r);
    for (int i = 0; i < 4; i++)
        out[i] = r->buf[i];
    r->pos = 4;
}

double mx_rng_uniform(mx_rng *r)
{
    /* (k + 0.5) / 2^32 lies strictly inside (0, 1). */
    return mx_u01(mx_rng_u32(r));
}

double mx_rng_normal(mx_rng *r)
{
    if (r->have_spare) {
        r->have_spare = 0;
        return r->spare;
    }
    double u1 = mx_rng_uniform(r);
    double u2 = mx_rng_uniform(r);
    double radius = sqrt(-2.0 * log(u1));
    double angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->have_spare = 1;
    return radius * cos(angle);
}

void mx_rng_normal_fill(mx_rng *r, float *out, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[i] = (float)mx_rng_normal(r);
}

int mx_rng_bernoulli(mx_rng *r, double p)
{
    if (p <= 0.0)
        return 0;
    if (p >= 1.0)
        return 1;
    uint32_t threshold = (uint32_t)(p * 4294967296.0);
    return mx_rng_u32(r) < threshold;
}

void mx_rng_permutation(mx_rng *r, size_t *order, size_t n)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        uint64_t k = ((uint64_t)mx_rng_u32(r) * (uint64_t)i) >> 32;
        size_t t = order[i - 1];
        order[i - 1] = order[k];
        order[k] = t;
    }
}
