#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# memxbar.sh: the two quick-start commands.
#   ./memxbar.sh sweep [ARGS...]  install what is missing, build, run a sweep
#                                 (no ARGS: the default sweep -> results/default.h5)
#   ./memxbar.sh test             install what is missing, build, run every test
#                                 suite, then the unit suites under ASan+UBSan
#                                 and under ThreadSanitizer
# A second run skips what is already done.
set -euo pipefail
cd "$(dirname "$0")"

PACKAGES=(gcc meson ninja-build pkg-config libgsl-dev libhdf5-dev libcmocka-dev
  librandom123-dev libfyaml-dev libopenblas-dev zlib1g-dev libsuitesparse-dev libjson-c-dev libarchive-dev python3-h5py python3-matplotlib
  python3-pandas libopenmpi-dev openmpi-bin clang-14 libomp-14-dev libclang-rt-14-dev)

install_missing() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "memxbar.sh: installing ${missing[*]}" >&2
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "memxbar.sh: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
  fi
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
}

build() { # build DIR [meson options...]
  local dir=$1; shift
  if [ ! -f "$dir/build.ninja" ]; then
    meson setup "$dir" "$@" >&2
  fi
  ninja -C "$dir" >&2
}

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  sweep)
    install_missing
    build build
    exec build/memxbar sweep "$@"
    ;;
  test)
    install_missing
    build build
    meson test -C build --print-errorlogs --num-processes 2
    echo "memxbar.sh: unit suites again under AddressSanitizer + UndefinedBehaviorSanitizer" >&2
    build build-asan -Dbuildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dbench=false
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
      meson test -C build-asan --suite unit --print-errorlogs --num-processes 2
    echo "memxbar.sh: unit suites again under ThreadSanitizer (clang, LLVM OpenMP + Archer)" >&2
    scripts/tsan.sh build-tsan
    ;;
  *)
    echo "usage: ./memxbar.sh sweep [CONFIG.yaml] [-o OUT.h5] [options]   (see build/memxbar --help)" >&2
    echo "       ./memxbar.sh test" >&2
    exit 2
    ;;
esac
