#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Run one libFuzzer target on one core (docs/reliability.md).
#   tests/fuzz/run.sh BUILD_DIR TARGET SECONDS [extra libFuzzer flags]
# The working corpus grows in $FUZZ_WORK/TARGET (default /tmp/memxbar-fuzz),
# seeded from tests/fuzz/corpus/TARGET; crashes land in $FUZZ_WORK/TARGET-artifacts/.
# Copy a fixed crash's reproducer to tests/fuzz/crashes/TARGET/ so the replay
# test keeps it fixed.
set -euo pipefail
build=$1 target=$2 seconds=$3
shift 3
src=$(cd "$(dirname "$0")" && pwd)
work=${FUZZ_WORK:-/tmp/memxbar-fuzz}
mkdir -p "$work/$target" "$work/$target-artifacts"
export OMP_NUM_THREADS=1
# fuzz_resume writes fresh .partial seeds of this build into the working
# corpus (committed ones go stale with the code version; see fuzz_resume.c).
if [ "$target" = resume ]; then export MX_FUZZ_RESUME_SEEDS=${MX_FUZZ_RESUME_SEEDS:-$work/$target}; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec "$build/tests/fuzz/fuzz_$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
  -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/$target-artifacts/" \
  "$@" "$work/$target" "$src/corpus/$target"
