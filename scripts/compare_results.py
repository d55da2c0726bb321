#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Are two memxbar results files equal? Every dataset, bit for bit.

    scripts/compare_results.py A.h5 B.h5 [--min-datasets N]

Compares every dataset of the two files byte for byte (dtype, shape and
contents), except /summary's eval_seconds column (wall time). Exit 0 when
all are equal (and there are at least N datasets), 1 when any differs —
naming them — and 2 on a usage or file error. The tests use it to check a
resumed sweep and a distributed (MPI) sweep against an uninterrupted
one-process run of the same config and seed.
"""
import argparse
import sys

import h5py

WALL_TIME_COLUMNS = {"eval_seconds"}


def datasets(path):
    out = {}
    with h5py.File(path, "r") as f:
        f.visititems(lambda n, o: out.__setitem__(n, o[()]) if isinstance(o, h5py.Dataset) else None)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--min-datasets", type=int, default=1,
                    help="fail if the files hold fewer datasets (a test that compares nothing)")
    args = ap.parse_args()
    try:
        a, b = datasets(args.a), datasets(args.b)
    except OSError as e:
        print(f"compare_results: {e}", file=sys.stderr)
        return 2
    differ = sorted(set(a) ^ set(b))
    for name in sorted(set(a) & set(b)):
        x, y = a[name], b[name]
        cols = [c for c in x.dtype.names if c not in WALL_TIME_COLUMNS] if x.dtype.names else None
        same = x.dtype == y.dtype and x.shape == y.shape and (
            all(x[c].tobytes() == y[c].tobytes() for c in cols) if cols else
            x.tobytes() == y.tobytes())
        if not same:
            differ.append(name)
    print("%d datasets; differ: %s" % (len(a), " ".join(differ) or "none"))
    return 1 if differ or len(a) < args.min_datasets else 0


if __name__ == "__main__":
    sys.exit(main())
