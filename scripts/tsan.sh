#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ThreadSanitizer over memxbar's OpenMP paths (issue 10, docs/reliability.md).
#
# GCC's libgomp is not instrumented: TSan cannot see its barriers and reports
# races on every parallel region. This setup uses clang 14 with LLVM's OpenMP
# runtime (libomp, Debian libomp-14-dev) and its Archer tool (libarcher.so,
# loaded through OMP_TOOL_LIBRARIES), which tells TSan the happens-before
# edges of OpenMP barriers, tasks, criticals and reductions.
# ignore_noninstrumented_modules=1 (Archer's documented setting) ignores the
# memset/free/mutex calls made inside libraries that are not instrumented —
# libomp's own bookkeeping, OpenBLAS's pthread pool, libhdf5 — which would
# otherwise be reported by the hundred; memxbar's own loads and stores stay
# checked. A deliberate race in an `omp parallel for` is reported by this
# setup (docs/reliability.md), so a clean run means something.
#
# -ffp-contract=off: clang contracts a*b+c into an FMA by default inside the
# avx2/avx512 variants of crossbar/matmul.c (avx512f implies FMA), which
# breaks the bit-for-bit equality of the fast matmul and its reference twin;
# GCC in ISO C mode (the normal build) does not contract.
#
# Usage: scripts/tsan.sh [build-dir] [meson test args...]
#   default: build-tsan, the 'unit' suite with OMP_NUM_THREADS=2.
#   e.g. scripts/tsan.sh build-tsan crossbar snn   (selected programs)
# Exit status: meson test's (a TSan report makes a program exit 66).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build-tsan}
shift || true

if ! command -v clang-14 >/dev/null; then
    echo "tsan.sh: needs clang-14 (apt-get install clang-14 libomp-14-dev)" >&2
    exit 2
fi
archer=""
for d in "$(llvm-config-14 --libdir 2>/dev/null || true)" /usr/lib/llvm-14/lib; do
    if [ -n "$d" ] && [ -f "$d/libarcher.so" ]; then
        archer="$d/libarcher.so"
        break
    fi
done
if [ -z "$archer" ]; then
    echo "tsan.sh: libarcher.so not found (apt-get install libomp-14-dev)" >&2
    exit 2
fi

# The TSan runtime of clang 14 cannot start on kernels whose mmap
# randomisation is wider than it knows ("unexpected memory mapping", Linux
# >= 6.5 with vm.mmap_rnd_bits = 32). That is the machine, not memxbar: say
# so and skip, unless TSAN_REQUIRED=1.
probe=$(mktemp -d)
printf 'int main(void) { return 0; }\n' >"$probe/p.c"
if ! clang-14 -fsanitize=thread -o "$probe/p" "$probe/p.c" 2>"$probe/err" || ! "$probe/p" 2>"$probe/err"; then
    echo "tsan.sh: the ThreadSanitizer runtime does not start here: $(head -c 300 "$probe/err")" >&2
    rm -rf "$probe"
    if [ "${TSAN_REQUIRED:-0}" = 1 ]; then exit 1; fi
    echo "tsan.sh: skipped (set TSAN_REQUIRED=1 to fail instead)" >&2
    exit 0
fi
rm -rf "$probe"

if [ ! -d "$build" ]; then
    CC=clang-14 meson setup "$build" -Db_sanitize=thread -Db_lundef=false \
        -Dbuildtype=debugoptimized -Dbench=false -Dc_args=-ffp-contract=off >/dev/null
fi
ninja -C "$build" >/dev/null
# The programs must use LLVM's libomp (meson's openmp dependency with clang).
if ! ldd "$build/tests/test_core" | grep -q 'libomp\.so'; then
    echo "tsan.sh: $build/tests/test_core is not linked with LLVM's libomp" >&2
    exit 2
fi

export OMP_TOOL_LIBRARIES="$archer"
export TSAN_OPTIONS="${TSAN_OPTIONS:-} halt_on_error=0 ignore_noninstrumented_modules=1"
export OMP_NUM_THREADS=2
start=$(date +%s)
status=0
if [ $# -gt 0 ]; then
    meson test -C "$build" --timeout-multiplier 3 "$@" || status=$?
else
    meson test -C "$build" --suite unit --timeout-multiplier 3 || status=$?
fi
log="$build/meson-logs/testlog.txt"
races=$(grep -c 'WARNING: ThreadSanitizer' "$log" || true)
echo "tsan.sh: $races ThreadSanitizer report(s), $(($(date +%s) - start)) s; log: $log"
exit $status
