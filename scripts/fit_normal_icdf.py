#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Regenerates icdf_coef of core/rng.c (mx_normal_from_u32), issue 9 round 3.

Segment k = 0..31 covers the two-sided tail probability t in [2^-(k+1), 2^-k);
x = 2^(k+1)*t - 1.5 in [-1/2, 1/2); |z| = Phi^-1(1 - t/2) = -ndtri(t/2).
Degree-7 Chebyshev least-squares fit on 4000 Chebyshev nodes per segment,
converted to the power basis in x, rounded to float. Prints the C table and
the worst error of float Horner-with-FMA evaluation (emulated in double).
Needs numpy and scipy (Debian python3-numpy, python3-scipy):
    /usr/bin/python3 scripts/fit_normal_icdf.py"""
import numpy as np
from numpy.polynomial import chebyshev as C
from scipy.special import ndtri

DEG, NODES = 7, 4000


def fit(k):
    x = np.cos(np.pi * (np.arange(NODES) + 0.5) / NODES) * 0.5
    z = -ndtri(2.0 ** -(k + 1) * (1.5 + x) / 2)
    p = C.cheb2poly(C.chebfit(2 * x, z, DEG))      # in y = 2x
    return (p * 2.0 ** np.arange(DEG + 1)).astype(np.float32)  # in x


rows = [fit(k) for k in range(32)]
worst = 0.0
for k, p in enumerate(rows):
    x = (np.arange(-2**14, 2**14) / 2**15).astype(np.float32).astype(np.float64)
    z = -ndtri(2.0 ** -(k + 1) * (1.5 + x) / 2)
    y = np.full_like(x, np.float64(p[-1]))
    for a in p[-2::-1]:
        y = (y * x + np.float64(a)).astype(np.float32).astype(np.float64)
    ulp = np.spacing(np.maximum(np.abs(z), 0.5).astype(np.float32)).astype(np.float64)
    worst = max(worst, (np.abs(y - z) / ulp).max())
print(f"/* worst {worst:.2f} float ulps of max(|z|, 1/2) */")
print("static const float icdf_coef[ICDF_DEGREE + 1][32] = {")
for i in range(DEG + 1):
    v = [np.format_float_scientific(rows[k][i], unique=True, trim='-') + 'f' for k in range(32)]
    v = [s.replace('e', '.0e', 1) if '.' not in s.split('e')[0] else s for s in v]
    lines = ['     ' + ', '.join(v[j:j + 5]) for j in range(0, 32, 5)]
    print(f"    {{/* x^{i} */\n" + ',\n'.join(lines) + '},')
print("};")
