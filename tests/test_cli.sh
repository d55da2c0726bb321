#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli.sh: golden runs through the command-line program — bad configs
# exit non-zero with one line naming file:line:col, the field and what was
# expected, and leave no results file; a tiny sweep on the UCI digits writes
# a complete results file and prints the summary.
#   test_cli.sh BUILD/memxbar
set -u
exe=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

check() { # name, expected exit, expected stderr text, args...
  local name=$1 want_code=$2 want_text=$3
  shift 3
  "$exe" "$@" >"$tmp/out" 2>"$tmp/err"
  local code=$?
  if [ "$code" -eq "$want_code" ] && grep -qF -- "$want_text" "$tmp/err" "$tmp/out"; then
    pass=$((pass + 1))
    echo "ok: $name"
  else
    fail=$((fail + 1))
    echo "FAILED: $name (exit $code, wanted $want_code and \"$want_text\")"
    sed 's/^/  | /' "$tmp/err" | tail -5
  fi
}

cfg() { printf "%b" "$2" >"$tmp/$1.yaml"; }

cfg bits0 'hardware:\n  adc:\n    bits: 0\n'
check "ADC bits 0" 1 "bits0.yaml:3:11: hardware.adc.bits: expected an integer in [1, 16], got 0" sweep "$tmp/bits0.yaml" -o "$tmp/o.h5"
cfg bits17 'hardware: {adc: {bits: 17}}\n'
check "ADC bits 17" 1 "hardware.adc.bits: expected an integer in [1, 16], got 17" sweep "$tmp/bits17.yaml" -o "$tmp/o.h5"
cfg unknown 'hardware:\n  adcc: {bits: 4}\n'
check "unknown key" 1 "unknown.yaml:2:3: hardware.adcc: unknown key (expected one of: device, crossbar, adc)" sweep "$tmp/unknown.yaml" -o "$tmp/o.h5"
cfg type 'snn: {timesteps: "ten"}\n'
check "wrong type" 1 'snn.timesteps: expected an integer in [1, 100000], got the string "ten"' sweep "$tmp/type.yaml" -o "$tmp/o.h5"
cfg sigma 'hardware: {device: {d2d_sigma: -0.1}}\n'
check "negative sigma" 1 "hardware.device.d2d_sigma: expected a number >= 0, got -0.1" sweep "$tmp/sigma.yaml" -o "$tmp/o.h5"
cfg gmin 'hardware: {device: {g_min_s: 2.0e-5}}\n'
check "g_min >= g_max" 1 "hardware.device.g_min_s: expected less than hardware.device.g_max_s" sweep "$tmp/gmin.yaml" -o "$tmp/o.h5"
cfg tile 'hardware: {crossbar: {tile_rows: 0}}\n'
check "tile size 0" 1 "hardware.crossbar.tile_rows: expected an integer in [1, 65536], got 0" sweep "$tmp/tile.yaml" -o "$tmp/o.h5"
check "missing config" 1 "nope.yaml: cannot open" sweep "$tmp/nope.yaml" -o "$tmp/o.h5"
check "bad --set" 1 "hardware.adc.bits: expected an integer in [1, 16], got 99" sweep --set hardware.adc.bits=99 -o "$tmp/o.h5"
check "missing data folder" 1 "looked in: --data $tmp/nodata (missing)" sweep --data "$tmp/nodata" -o "$tmp/o.h5"
mkdir -p "$tmp/corrupt/mnist"
for f in train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
  printf 'not a gzip file at all' >"$tmp/corrupt/mnist/$f.gz"
done
check "corrupt dataset" 1 "train-images-idx3-ubyte.gz" sweep --data "$tmp/corrupt" -o "$tmp/o.h5"
check "unknown option" 2 "unknown or incomplete option '--bogus'" sweep --bogus
if [ -e "$tmp/o.h5" ] || [ -e "$tmp/o.h5.partial" ]; then
  fail=$((fail + 1)); echo "FAILED: a results file was left behind by a failed run"
else
  pass=$((pass + 1)); echo "ok: failed runs leave no results file"
fi

cfg tiny 'dataset: {name: digits, test_limit: 100, calibration_images: 20}\nmodel: {hidden: [16]}\ntraining: {epochs: 3, batch_size: 32}\nsnn: {timesteps: 8}\nsweep:\n  hardware.adc.bits: [4, 8]\n'
check "tiny digits sweep" 0 "bits=8" sweep "$tmp/tiny.yaml" -o "$tmp/tiny.h5" --cache "$tmp/cache"
if [ -f "$tmp/tiny.h5" ] && [ ! -e "$tmp/tiny.h5.partial" ]; then
  pass=$((pass + 1)); echo "ok: complete results file written"
else
  fail=$((fail + 1)); echo "FAILED: no complete results file"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
