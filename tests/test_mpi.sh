#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_mpi.sh: a sweep spread over 2 MPI ranks writes a file whose datasets
# equal a one-process run's, bit for bit (scripts/compare_results.py); both
# ranks run points; a 2-rank sweep killed after its third committed point
# and resumed on 2 ranks equals the uninterrupted run; a rank that fails
# stops the sweep with its message, naming the rank.
#   test_mpi.sh BUILD/memxbar SOURCE_ROOT MPIRUN
set -u
exe=$1
src=$2
mpirun=$3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; }

# Root in a container, few cores, no CMA: what mpirun needs to run here.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_btl_vader_single_copy_mechanism=none
mpi() { "$mpirun" -np "$@"; }
same() { # name a.h5 b.h5
  if /usr/bin/python3 "$src/scripts/compare_results.py" --min-datasets 20 "$2" "$3" >"$tmp/cmp" 2>&1; then
    ok "$1 ($(cat "$tmp/cmp"))"
  else
    bad "$1: $(cat "$tmp/cmp")"
  fi
}

printf 'dataset: {name: digits, test_limit: 100, calibration_images: 20}\nmodel: {hidden: [16]}\ntraining: {epochs: 3, batch_size: 32}\nsnn: {timesteps: 8}\nrepeats: 2\nsweep:\n  hardware.adc.bits: [4, 8]\n  hardware.device.d2d_sigma: [0, 0.2, 0.4]\n' >"$tmp/s.yaml"
run=("$tmp/s.yaml" --cache "$tmp/cache" --threads 1)

if "$exe" sweep "${run[@]}" -o "$tmp/one.h5" -q >"$tmp/out" 2>"$tmp/err"; then
  ok "one process"
else
  bad "one process: $(tail -3 "$tmp/err")"
fi

# Two ranks from a cold cache of their own: one trains, the other waits on
# the cache lock and loads.
if mpi 2 "$exe" sweep "${run[@]}" -o "$tmp/two.h5" --cache "$tmp/cache2" >"$tmp/out" 2>"$tmp/err"; then
  ok "two ranks"
else
  bad "two ranks: $(tail -5 "$tmp/err")"
fi
same "2 ranks = 1 process" "$tmp/one.h5" "$tmp/two.h5"
r0=$(sed -n 's/^  rank 0: \([0-9]*\)$/\1/p' "$tmp/err")
r1=$(sed -n 's/^  rank 1: \([0-9]*\)$/\1/p' "$tmp/err")
if [ -n "$r0" ] && [ -n "$r1" ] && [ "$r0" -gt 0 ] && [ "$r1" -gt 0 ] && [ $((r0 + r1)) -eq 12 ]; then
  ok "both ranks ran points (rank 0: $r0, rank 1: $r1)"
else
  bad "runs per rank: '$r0' '$r1'"; tail -5 "$tmp/err"
fi
if grep -q "1 networks trained, 1 from cache" "$tmp/out"; then
  ok "the network was trained once, by one rank"
else
  bad "training not shared: $(grep 'networks trained' "$tmp/out")"
fi

# Killed (rank 0 exits as a kill -9 would, right after its 3rd point is on
# disk; mpirun then ends rank 1), then resumed on 2 ranks.
MEMXBAR_TEST_EXIT_AFTER_POINTS=3 mpi 2 -x MEMXBAR_TEST_EXIT_AFTER_POINTS "$exe" sweep "${run[@]}" -o "$tmp/k.h5" -q >"$tmp/out" 2>"$tmp/err"
code=$?
"$exe" report "$tmp/k.h5.partial" --no-plot >"$tmp/rep" 2>&1
if [ "$code" -ne 0 ] && [ ! -e "$tmp/k.h5" ] && grep -q "3 of 12 (point, repeat) runs (sweep incomplete)" "$tmp/rep"; then
  ok "a killed 2-rank sweep leaves its 3 committed points in the .partial"
else
  bad "kill (exit $code): $(tail -1 "$tmp/rep")"
fi
if mpi 2 "$exe" sweep "${run[@]}" -o "$tmp/k.h5" --resume >"$tmp/out" 2>"$tmp/err" && [ -f "$tmp/k.h5" ]; then
  ok "resumed on 2 ranks"
else
  bad "resume on 2 ranks: $(tail -3 "$tmp/err")"
fi
same "killed, resumed on 2 ranks = 1 process" "$tmp/one.h5" "$tmp/k.h5"

# A rank that cannot run (no dataset where it looks): the sweep stops,
# naming the rank and the reason, and the file is not marked complete.
mpi 1 "$exe" sweep "${run[@]}" -o "$tmp/e.h5" : -np 1 "$exe" sweep "${run[@]}" -o "$tmp/e.h5" --data "$tmp/nowhere" >"$tmp/out" 2>"$tmp/err"
code=$?
if [ "$code" -eq 1 ] && grep -q "^memxbar: rank 1: .*nowhere" "$tmp/err" && [ ! -e "$tmp/e.h5" ]; then
  ok "a failing rank stops the sweep with its message (exit 1)"
else
  bad "failing rank (exit $code): $(tail -4 "$tmp/err")"
fi

# mpirun with one rank is a plain one-process sweep.
if mpi 1 "$exe" sweep "${run[@]}" -o "$tmp/n1.h5" -q >"$tmp/out" 2>"$tmp/err"; then ok "mpirun -np 1"; else bad "mpirun -np 1: $(tail -3 "$tmp/err")"; fi
same "mpirun -np 1 = 1 process" "$tmp/one.h5" "$tmp/n1.h5"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
