/* SPDX-License-Identifier: MIT
 *
 * cell_internal.h: the two scalar checks every cell model's validator and
 * update uses. Private to devices/ (not installed, not included from other
 * modules).
 */
#ifndef MX_DEVICES_CELL_INTERNAL_H
#define MX_DEVICES_CELL_INTERNAL_H

#include <math.h>

static inline int finite_nonneg(double x) { return isfinite(x) && x >= 0.0; }

static inline double clamp(double x, double lo, double hi)
{
    return x < lo ? lo : (x > hi ? hi : x);
}

#endif /* MX_DEVICES_CELL_INTERNAL_H */
