#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# test_cli.sh: golden runs through the command-line program — bad configs
# exit non-zero with one line naming file:line:col, the field and what was
# expected, and leave no results file; a tiny sweep on the UCI digits writes
# a complete results file and prints the summary.
#   test_cli.sh BUILD/memxbar SOURCE_ROOT
set -u
exe=$1
src=$2
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
check "unknown key" 1 "unknown.yaml:2:3: hardware.adcc: unknown key (expected one of: device, crossbar, programming, drift_compensation, column_calibration, fault_mapping, adc, readout, energy)" sweep "$tmp/unknown.yaml" -o "$tmp/o.h5"
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

# memxbar device: list, show, curve.
"$exe" device list >"$tmp/list" 2>&1
code=$?
missing=""
for name in reram pcm nonlinear step binary linear-ion-drift vteam measured \
            ag-si taox-hfox pcmo alox-hfo2 gst-pcm epiram hzo-fefet pcm-nandakumar; do
  grep -q "^  $name " "$tmp/list" || missing="$missing $name"
done
if [ "$code" -eq 0 ] && [ -z "$missing" ] && grep -q "source: Jo et al., Nano Lett." "$tmp/list"; then
  pass=$((pass + 1)); echo "ok: device list lists every model and preset with its source"
else
  fail=$((fail + 1)); echo "FAILED: device list (exit $code, missing:$missing)"
fi
check "device show of a preset prints its source" 0 "source: Jo et al., Nano Lett. 10:1297 (2010)" device show ag-si
check "device show lists the model's fields" 0 "nonlinear.states_ltp                 97" device show ag-si
check "device show of a model" 0 "dynamic.vteam_r_off_ohm" device show vteam
check "device show --set" 0 "nonlinear.nl_ltp                     1.5" device show ag-si --set hardware.device.nonlinear.nl_ltp=1.5
check "device show unknown name" 1 "unknown device 'flash' (expected a model: reram, pcm," device show flash
check "device curve unknown name" 1 "unknown device 'ag-sy'" device curve ag-sy -o "$tmp/x.h5"
check "device curve --pulses 0" 2 '--pulses: expected an integer in [1, 1000000], got "0"' device curve ag-si --pulses 0 -o "$tmp/x.h5"
check "device curve --pulses text" 2 '--pulses: expected an integer in [1, 1000000], got "ten"' device curve ag-si --pulses ten -o "$tmp/x.h5"
check "device curve --cycles -1" 2 '--cycles: expected an integer in [1, 10000], got "-1"' device curve ag-si --cycles -1 -o "$tmp/x.h5"
check "device curve of a statistical model" 1 "reram has no pulse response" device curve reram -o "$tmp/x.h5"
check "device curve of a bad --set" 1 "hardware.device.nonlinear.nl_ltp: expected a number in [-9, 9], got 12" device curve ag-si --set hardware.device.nonlinear.nl_ltp=12 -o "$tmp/x.h5"
check "device curve measured without a file" 1 "hardware.device.measured.path: expected the CSV or HDF5 file" device curve measured -o "$tmp/x.h5"
if [ -e "$tmp/x.h5" ] || [ -e "$tmp/x.h5.partial" ]; then
  fail=$((fail + 1)); echo "FAILED: a failed device curve left a file behind"
else
  pass=$((pass + 1)); echo "ok: failed device curves leave no file"
fi

# Shapes of the written files: h5dump when installed, else h5py.
h5shape() { # file dataset -> "d0 d1 ..."
  if command -v h5dump >/dev/null 2>&1; then
    h5dump -H -d "/$2" "$1" | sed -n 's/.*DATASPACE  SIMPLE { ( \([0-9, ]*\) ).*/\1/p' | tr -d ','
  elif /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
    /usr/bin/python3 -c 'import sys, h5py; print(*h5py.File(sys.argv[1], "r")[sys.argv[2]].shape)' "$1" "$2"
  else
    echo "unchecked"
  fi
}
expect_shape() { # name file dataset shape
  local got
  got=$(h5shape "$2" "$3")
  if [ "$got" = "$4" ] || [ "$got" = "unchecked" ]; then
    pass=$((pass + 1)); echo "ok: $1: $3 has shape ($got)"
  else
    fail=$((fail + 1)); echo "FAILED: $1: $3 has shape ($got), wanted ($4)"
  fi
}
check "device curve of a preset" 0 "4 cells x 2 cycles of 20 potentiating" device curve ag-si --pulses 20 --cycles 2 --cells 4 --seed 3 -o "$tmp/dev/ag.h5" --no-plot
expect_shape "ag-si curve" "$tmp/dev/ag.h5" conductance_s "4 81"
expect_shape "ag-si curve" "$tmp/dev/ag.h5" nominal_conductance_s "81"
expect_shape "ag-si curve" "$tmp/dev/ag.h5" pulse_index "81"
check "device curve default pulses = the preset's states" 0 "16 cells x 1 cycles of 50 potentiating" device curve pcmo -o "$tmp/dev/pcmo.h5" --no-plot
expect_shape "pcmo curve" "$tmp/dev/pcmo.h5" conductance_s "16 101"
check "device curve of a dynamic model" 0 "i-v loops at" device curve vteam -o "$tmp/dev/vteam.h5" --no-plot
expect_shape "vteam loops" "$tmp/dev/vteam.h5" current_a "3 801"
check "device curve of pcm: drift" 0 "wrote its drift instead" device curve pcm --cells 8 -o "$tmp/dev/pcm.h5" --no-plot
expect_shape "pcm drift" "$tmp/dev/pcm.h5" conductance_s "8 81"
root=${MEMXBAR_SOURCE_ROOT:-$(dirname "$0")/..}
check "device curve of a measured curve" 0 "16 cells x 1 cycles of 50 potentiating" device curve measured --set "hardware.device.measured.path=$root/examples/devices/sample-curve.csv" -o "$tmp/dev/measured.h5" --no-plot
expect_shape "measured curve" "$tmp/dev/measured.h5" conductance_s "16 101"
if /usr/bin/python3 -c 'import h5py, matplotlib' 2>/dev/null; then
  check "device curve draws a plot" 0 "plot: $tmp/dev/plot.png" device curve epiram --pulses 10 --cells 2 -o "$tmp/dev/plot.h5"
  [ -s "$tmp/dev/plot.png" ] && { pass=$((pass + 1)); echo "ok: plot written"; } || { fail=$((fail + 1)); echo "FAILED: no plot"; }
fi
printf '#!/bin/sh\necho "plot_device.py: h5py is missing" >&2\nexit 3\n' >"$tmp/nopy"
chmod +x "$tmp/nopy"
MEMXBAR_PYTHON="$tmp/nopy" check "device curve without h5py still writes the data" 0 "no plot" device curve step --pulses 10 --cells 2 -o "$tmp/dev/step.h5"
MEMXBAR_PYTHON="$tmp/none" check "device curve without python still writes the data" 0 "not found, so no plot" device curve step --pulses 10 --cells 2 -o "$tmp/dev/step2.h5"
if [ -f "$tmp/dev/step.h5" ] && [ -f "$tmp/dev/step2.h5" ] && ! ls "$tmp/dev/"*.partial >/dev/null 2>&1; then
  pass=$((pass + 1)); echo "ok: device curves written whole, no .partial left"
else
  fail=$((fail + 1)); echo "FAILED: device curve files missing or .partial left"
fi

# memxbar crossbar solve: a reference case, and bad case files.
ref="${MEMXBAR_SOURCE_ROOT:-.}/../shared/reference/irdrop/lin_8x8_wire1.json"
if [ -f "$ref" ]; then
  check "crossbar solve" 0 '{"i_col_a": [' crossbar solve "$ref"
  check "crossbar solve first-order" 0 '{"i_col_a": [' crossbar solve "$ref" --mode first-order
fi
printf '{"rows": 2,\n "cols": }' >"$tmp/bad.json"
check "crossbar case syntax" 1 "bad.json:2:10: JSON syntax error" crossbar solve "$tmp/bad.json"
printf '{"rows": 1, "cols": 2, "r_row_ohm": 1, "r_col_ohm": 1, "r_src_ohm": 0, "r_sense_ohm": 0, "r_access_ohm": 0, "cell_model": "linear", "g_s": [[1e-5]], "v_row_v": [0.1]}' >"$tmp/shape.json"
check "crossbar case shape" 1 "field g_s[0]: expected a list of 2 numbers, got 1" crossbar solve "$tmp/shape.json"
check "crossbar bad mode" 2 "expected one of exact, ideal, first-order, line-sweeps" crossbar solve "$tmp/shape.json" --mode fast
check "crossbar no case" 2 "expected a case file" crossbar solve

cfg tiny 'dataset: {name: digits, test_limit: 100, calibration_images: 20}\nmodel: {hidden: [16]}\ntraining: {epochs: 3, batch_size: 32}\nsnn: {timesteps: 8}\nsweep:\n  hardware.adc.bits: [4, 8]\n'
check "tiny digits sweep" 0 "bits=8" sweep "$tmp/tiny.yaml" -o "$tmp/tiny.h5" --cache "$tmp/cache"
check "tiny digits sweep, ANN on the crossbar" 0 "ann" sweep "$tmp/tiny.yaml" -o "$tmp/ann.h5" --cache "$tmp/cache" --set model.run_as=ann --set hardware.crossbar.input=dac
if [ -f "$tmp/tiny.h5" ] && [ ! -e "$tmp/tiny.h5.partial" ]; then
  pass=$((pass + 1)); echo "ok: complete results file written"
else
  fail=$((fail + 1)); echo "FAILED: no complete results file"
fi
expect_shape "tiny sweep" "$tmp/tiny.h5" points/1/0/layer_energy_adc_j "2"
# The ADC-less readout end to end, with a noisy comparator.
check "tiny digits sweep, ADC-less readout" 0 "nJ/inf" sweep "$tmp/tiny.yaml" -o "$tmp/integrate.h5" --cache "$tmp/cache" --set hardware.readout.kind=integrate --set hardware.readout.offset_sigma=0.05 --set hardware.readout.noise_sigma=0.05
expect_shape "ADC-less sweep" "$tmp/integrate.h5" points/0/0/layer_energy_sense_j "2"

# No work lost: a sweep killed after a committed point and resumed with
# --resume writes the datasets of an uninterrupted run, bit for bit (the
# /summary eval_seconds column is wall time and may differ); a .partial of
# another sweep is refused; SIGINT stops after the point with the command
# that resumes. The kill comes from test hooks read by the CLI only (see
# cli/main.c), so nothing here depends on timing.
ok() { pass=$((pass + 1)); echo "ok: $1"; }
bad() { fail=$((fail + 1)); echo "FAILED: $1"; sed 's/^/  | /' "$tmp/err" | tail -5; }
same_datasets() { # name a.h5 b.h5: every dataset equal (h5py), and the report tables
  "$exe" report "$2" --no-plot | grep -v '^results:' >"$tmp/ta"
  "$exe" report "$3" --no-plot | grep -v '^results:' >"$tmp/tb"
  if ! cmp -s "$tmp/ta" "$tmp/tb" || ! grep -q "4 of 4 (point, repeat) runs," "$tmp/ta"; then
    bad "$1: report tables differ"; diff "$tmp/ta" "$tmp/tb" | head -5; return
  fi
  if ! /usr/bin/python3 -c 'import h5py' 2>/dev/null; then ok "$1 (report tables equal; h5py missing, datasets unchecked)"; return; fi
  /usr/bin/python3 "$src/scripts/compare_results.py" --min-datasets 20 "$2" "$3" >"$tmp/cmp" 2>&1
  if [ $? -eq 0 ]; then ok "$1: $(cat "$tmp/cmp")"; else bad "$1: $(cat "$tmp/cmp")"; fi
}
wait_for_pause() { # stderr file: wait until the hook says it paused (the process may take a while)
  for _ in $(seq 1 1200); do
    grep -q "memxbar-test: paused after" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}
cfg res 'dataset: {name: digits, test_limit: 100, calibration_images: 20}\nmodel: {hidden: [16]}\ntraining: {epochs: 3, batch_size: 32}\nsnn: {timesteps: 8}\nsweep:\n  hardware.adc.bits: [3, 4, 6, 8]\n'
mkdir -p "$tmp/res"
check "resume: the uninterrupted sweep" 0 "bits=8" sweep "$tmp/res.yaml" -o "$tmp/res/full.h5" --cache "$tmp/cache" --threads 2
MEMXBAR_TEST_EXIT_AFTER_POINTS=1 "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/a.h5" --cache "$tmp/cache" -q >"$tmp/out" 2>"$tmp/err"
code=$?
"$exe" report "$tmp/res/a.h5.partial" --no-plot >"$tmp/rep" 2>&1
if [ "$code" -eq 137 ] && [ ! -e "$tmp/res/a.h5" ] && grep -q "1 of 4 (point, repeat) runs (sweep incomplete)" "$tmp/rep"; then
  ok "a sweep killed after its first point leaves it committed in the .partial"
else
  bad "kill after the first point (exit $code): $(tail -1 "$tmp/rep")"
fi
check "resume refuses a .partial of another config, naming the field" 1 "snn.timesteps is 8 in the file, 6 now" sweep "$tmp/res.yaml" -o "$tmp/res/a.h5" --cache "$tmp/cache" --resume --set snn.timesteps=6
check "resume without a .partial" 1 "no unfinished sweep to resume" sweep "$tmp/res.yaml" -o "$tmp/res/none.h5" --cache "$tmp/cache" --resume
check "resume after the kill" 0 "4 of 4 (point, repeat) runs, on 100 test images" sweep "$tmp/res.yaml" -o "$tmp/res/a.h5" --cache "$tmp/cache" --resume --threads 1
if [ -f "$tmp/res/a.h5" ] && [ ! -e "$tmp/res/a.h5.partial" ]; then ok "resumed file complete"; else bad "resumed file not complete"; fi
same_datasets "killed and resumed = uninterrupted" "$tmp/res/full.h5" "$tmp/res/a.h5"

# A real kill -9 while the sweep waits after its second committed point.
MEMXBAR_TEST_PAUSE_AFTER_POINTS=2 "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/k.h5" --cache "$tmp/cache" -q >"$tmp/out" 2>"$tmp/err" &
pid=$!
if wait_for_pause "$tmp/err"; then kill -9 "$pid"; fi
wait "$pid"
code=$?
check "resume after kill -9" 0 "(2 runs now" sweep "$tmp/res.yaml" -o "$tmp/res/k.h5" --cache "$tmp/cache" --resume
if [ "$code" -eq 137 ]; then ok "kill -9 landed (exit $code)"; else bad "kill -9 did not land (exit $code)"; fi
same_datasets "kill -9 and resumed = uninterrupted" "$tmp/res/full.h5" "$tmp/res/k.h5"

# SIGINT after the first point: a clean stop, exit 130, and a resume command that works.
MEMXBAR_TEST_PAUSE_AFTER_POINTS=1 "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/i.h5" --cache "$tmp/cache" -q >"$tmp/out" 2>"$tmp/err" &
pid=$!
if wait_for_pause "$tmp/err"; then kill -INT "$pid"; fi
wait "$pid"
code=$?
resume_cmd=$(sed -n 's/^memxbar: resume with: //p' "$tmp/err")
if [ "$code" -eq 130 ] && grep -q "stopped after 1 of 4" "$tmp/err" && [ -n "$resume_cmd" ] && [ -e "$tmp/res/i.h5.partial" ]; then
  ok "SIGINT stops after the point with exit 130 and prints: $resume_cmd"
else
  bad "SIGINT (exit $code)"
fi
eval "$resume_cmd" >"$tmp/out" 2>"$tmp/err"
code=$?
if [ "$code" -eq 0 ] && grep -q "(3 runs now" "$tmp/out"; then ok "the printed resume command finishes the sweep"; else bad "printed resume command (exit $code)"; fi
same_datasets "interrupted and resumed = uninterrupted" "$tmp/res/full.h5" "$tmp/res/i.h5"

# A full disk: under a file-size limit (ulimit -f, SIGXFSZ ignored, so a
# write past it fails as on a full disk) the sweep stops BEFORE a point it
# cannot finish (a point cut short would leave HDF5 metadata pointing past
# the end of the file and damage the finished ones), exits 1 naming the
# room left, and --resume with room again gives the uninterrupted datasets.
# The limit leaves the 1 MiB margin plus about two points.
(trap '' XFSZ; ulimit -f 1090; "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/d.h5" --cache "$tmp/cache" -q >"$tmp/out" 2>"$tmp/err")
code=$?
"$exe" report "$tmp/res/d.h5.partial" --no-plot >"$tmp/rep" 2>&1
if [ "$code" -eq 1 ] && grep -q "MiB left for the results" "$tmp/err" && grep -q "resume with:" "$tmp/err" &&
   grep -q "of 4 (point, repeat) runs (sweep incomplete)" "$tmp/rep"; then
  ok "a full disk stops the sweep before a point it cannot finish: $(grep -o '[0-9] of 4 (point, repeat) runs' "$tmp/rep")"
else
  bad "full disk (exit $code): $(tail -1 "$tmp/err")"
fi
check "resume after the full disk" 0 "runs now" sweep "$tmp/res.yaml" -o "$tmp/res/d.h5" --cache "$tmp/cache" --resume
same_datasets "full disk and resumed = uninterrupted" "$tmp/res/full.h5" "$tmp/res/d.h5"
# A damaged .partial (cut short, as a copy interrupted half way) is refused
# on resume instead of being built on.
MEMXBAR_TEST_EXIT_AFTER_POINTS=2 "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/t.h5" --cache "$tmp/cache" -q >/dev/null 2>&1
truncate -s "$(($(stat -c %s "$tmp/res/t.h5.partial") * 6 / 10))" "$tmp/res/t.h5.partial"
check "resume refuses a truncated .partial" 1 "truncated, corrupt or read-only?" sweep "$tmp/res.yaml" -o "$tmp/res/t.h5" --cache "$tmp/cache" --resume
if grep -q "resume with:" "$tmp/err"; then bad "a refused .partial still gets a resume hint"; else ok "no resume hint for a refused .partial"; fi

# A second sweep to the same output while the first still writes it is
# refused, and the first one's .partial is untouched (HDF5's truncating
# create wiped it before trying its lock, until results.c took the lock
# first); resuming it is refused too.
MEMXBAR_TEST_PAUSE_AFTER_POINTS=2 "$exe" sweep "$tmp/res.yaml" -o "$tmp/res/l.h5" --cache "$tmp/cache" -q >"$tmp/out1" 2>"$tmp/err1" &
pid=$!
if wait_for_pause "$tmp/err1"; then
  cp "$tmp/res/l.h5.partial" "$tmp/res/l-before"
  check "a second sweep to an output being written is refused" 1 "another process is writing it" sweep "$tmp/res.yaml" -o "$tmp/res/l.h5" --cache "$tmp/cache"
  check "resuming an output being written is refused" 1 "locked by another process" sweep "$tmp/res.yaml" -o "$tmp/res/l.h5" --cache "$tmp/cache" --resume
  if cmp -s "$tmp/res/l-before" "$tmp/res/l.h5.partial"; then ok "the running sweep's .partial is untouched"; else bad "the running sweep's .partial changed"; fi
  kill -INT "$pid"
else
  bad "the sweep to be locked out never paused"
fi
wait "$pid"
code=$?
"$exe" report "$tmp/res/l.h5.partial" --no-plot >"$tmp/rep" 2>&1
if [ "$code" -eq 130 ] && grep -q "2 of 4 (point, repeat) runs (sweep incomplete)" "$tmp/rep"; then
  ok "the first sweep keeps its 2 points and stops cleanly"
else
  bad "the locked-out sweep's owner (exit $code): $(tail -1 "$tmp/rep")"
fi

# Read-only results, as an unprivileged user (root writes anything; as root
# the test runs memxbar as nobody with setpriv): a folder that cannot be
# written fails at once naming the file; a read-only .partial is refused on
# resume and left as it was; report reads it.
as_user=()
[ "$(id -u)" -eq 0 ] && as_user=(setpriv --reuid=nobody --regid=nogroup --clear-groups)
ro="$tmp/ro"
mkdir -p "$ro/dir" && cp "$tmp/res/l.h5.partial" "$ro/r.h5.partial" && chmod 444 "$ro/r.h5.partial" &&
  chmod 555 "$ro/dir" && chmod 755 "$ro" && chmod 711 "$tmp"
if "${as_user[@]}" "$exe" --version >/dev/null 2>&1 && "${as_user[@]}" test -r "$tmp/res.yaml"; then
  "${as_user[@]}" "$exe" sweep "$tmp/res.yaml" -o "$ro/dir/x.h5" --cache "$tmp/cache" -q >"$tmp/out" 2>"$tmp/err"
  code=$?
  if [ "$code" -eq 1 ] && grep -q "x.h5.partial: cannot create HDF5 file (Permission denied)" "$tmp/err" && [ -z "$(ls "$ro/dir")" ]; then
    ok "a read-only results folder fails naming the file"
  else
    bad "read-only folder (exit $code): $(tail -1 "$tmp/err")"
  fi
  cp "$ro/r.h5.partial" "$tmp/r-before"
  "${as_user[@]}" "$exe" sweep "$tmp/res.yaml" -o "$ro/r.h5" --cache "$tmp/cache" --resume -q >"$tmp/out" 2>"$tmp/err"
  code=$?
  if [ "$code" -eq 1 ] && grep -q "r.h5.partial: cannot open for writing (Permission denied)" "$tmp/err" &&
     cmp -s "$tmp/r-before" "$ro/r.h5.partial"; then
    ok "a read-only .partial is refused on resume and left as it was"
  else
    bad "read-only .partial (exit $code): $(tail -1 "$tmp/err")"
  fi
  if "${as_user[@]}" "$exe" report "$ro/r.h5.partial" --no-plot 2>&1 | grep -q "2 of 4 (point, repeat) runs"; then
    ok "report reads a read-only results file"
  else
    bad "report of a read-only file"
  fi
else
  echo "skipped: read-only results (nobody cannot run $exe or read $tmp)"
fi
chmod 700 "$tmp"; chmod -R u+w "$ro"

# memxbar report: the table from the file, and the plots beside it.
check "report prints the summary table" 0 "bits=6" report "$tmp/res/full.h5" --no-plot
check "report of a missing file" 1 "nope.h5: cannot open" report "$tmp/res/nope.h5" --no-plot
check "report without a file" 2 "expected a results file" report
# A byte of a dataset changed in place (a bad disk or copy): the datasets
# carry HDF5's Fletcher-32 checksum, so the read fails instead of giving a
# wrong number (docs/reliability.md). h5py finds the chunk's file offset.
if /usr/bin/python3 -c 'import h5py' 2>/dev/null; then
  flip_in_dataset() { # file dataset: XOR one byte inside the dataset's first chunk
    /usr/bin/python3 - "$1" "$2" <<'PY'
import sys, h5py
with h5py.File(sys.argv[1], "r") as f:
    at = f[sys.argv[2]].id.get_chunk_info(0).byte_offset + 3
with open(sys.argv[1], "r+b") as fp:
    fp.seek(at)
    b = fp.read(1)[0]
    fp.seek(at)
    fp.write(bytes([b ^ 0x10]))
PY
  }
  cp "$tmp/res/full.h5" "$tmp/res/flip.h5" && flip_in_dataset "$tmp/res/flip.h5" summary
  check "report refuses a /summary that fails its checksum" 1 "/summary fails its checksum" report "$tmp/res/flip.h5" --no-plot
  cp "$tmp/res/full.h5" "$tmp/res/flip2.h5.partial" && flip_in_dataset "$tmp/res/flip2.h5.partial" points/1/0/layer_clip_rate
  check "resume refuses a .partial whose dataset fails its checksum" 1 "/points/1/0/layer_clip_rate fails its checksum" sweep "$tmp/res.yaml" -o "$tmp/res/flip2.h5" --cache "$tmp/cache" --resume
fi
if /usr/bin/python3 -c 'import h5py, matplotlib' 2>/dev/null; then
  check "report draws the plots" 0 "4 of 4 (point, repeat) runs" report "$tmp/res/full.h5"
  if [ -s "$tmp/res/full-accuracy.png" ]; then ok "report wrote full-accuracy.png"; else bad "report wrote no PNG"; fi
fi
# The pandas example of README.md and docs/results-format.md, as written there.
if /usr/bin/python3 -c 'import h5py, pandas' 2>/dev/null; then
  /usr/bin/python3 - "$tmp/res/full.h5" >"$tmp/pd" 2>&1 <<'PY'
import sys
import h5py, pandas as pd
with h5py.File(sys.argv[1], "r") as f:
    df = pd.DataFrame(f["summary"][()])
df = df.apply(lambda c: c.str.decode("utf-8") if c.dtype == object else c)  # string columns
print(df.groupby("hardware.adc.bits")["accuracy"].agg(["mean", "std"]))
print(len(df), "rows")
PY
  if grep -q "4 rows" "$tmp/pd" && grep -q "hardware.adc.bits" "$tmp/pd"; then ok "the documented pandas example loads /summary"; else bad "pandas example: $(tail -2 "$tmp/pd")"; fi
else
  bad "python3-pandas is missing (memxbar.sh installs it)"
fi
# The codesign table (scripts/codesign_table.py): per device, the best
# combination within a budget relative to its cheapest plain chip. At 1x
# only the plain 4-bit chip fits (the fault test has a cost); at 2x fault
# mapping wins.
cfg cds 'dataset: {name: digits, test_limit: 100, calibration_images: 20}\nmodel: {hidden: [16]}\ntraining: {epochs: 3, batch_size: 32}\nsnn: {timesteps: 8}\nhardware: {device: {type: nonlinear, stuck_at_gmax: 0.05}}\nsweep:\n  hardware.device.preset: [ag-si, pcmo]\n  hardware.fault_mapping.mode: [none, partner]\n  hardware.adc.bits: [4, 8]\n'
check "codesign sweep" 0 "8 points x 1 repeats" sweep "$tmp/cds.yaml" -o "$tmp/cds.h5" --cache "$tmp/cache"
/usr/bin/python3 "$src/scripts/codesign_table.py" "$tmp/cds.h5" --budget-factor 1 >"$tmp/cd1" 2>&1
/usr/bin/python3 "$src/scripts/codesign_table.py" "$tmp/cds.h5" --budget-factor 2 --plot "$tmp/cds.png" >"$tmp/cd2" 2>&1
if grep -q "^| ag-si | [0-9.]* | no mitigation (bits=4) |" "$tmp/cd1" && grep -q "^| pcmo | [0-9.]* | mode=partner (bits=4) |" "$tmp/cd2" && [ -s "$tmp/cds.png" ]; then
  ok "codesign table: plain chip at 1x its energy, fault mapping at 2x"
else
  bad "codesign table: $(head -6 "$tmp/cd1" | tail -2) / $(head -6 "$tmp/cd2" | tail -2)"
fi
# A learning method end to end on event data: POKER-DVS read from its tar.gz,
# a LIF network trained with surrogate gradients on the event frames, then
# evaluated on the crossbar — the same file at 1 and 2 threads.
cfg dvs 'seed: 1\nexperiment: surrogate\ndataset: {name: poker-dvs, event_steps: 20, calibration_images: 20}\nsurrogate: {hidden: [64], encoding: events, output: max-membrane, epochs: 5, batch_size: 16, learning_rate: 0.002, init_gain: 2}\nhardware: {device: {read_noise_sigma: 0.01}, crossbar: {input: spikes}}\nsweep:\n  hardware.device.d2d_sigma: [0, 0.3]\n  hardware.adc.bits: [4, 8]\n'
check "poker-dvs surrogate sweep, 1 thread" 0 "4 points x 1 repeats on 30 test images" sweep "$tmp/dvs.yaml" -o "$tmp/dvs/t1.h5" --cache "$tmp/dvs/cache1" --threads 1
check "poker-dvs surrogate sweep, 2 threads" 0 "4 points x 1 repeats on 30 test images" sweep "$tmp/dvs.yaml" -o "$tmp/dvs/t2.h5" --cache "$tmp/dvs/cache2" --threads 2
same_datasets "poker-dvs surrogate: 1 thread = 2 threads" "$tmp/dvs/t1.h5" "$tmp/dvs/t2.h5"
check "--set on a swept field replaces its axis" 0 "2 points x 1 repeats on 30 test images" sweep "$tmp/dvs.yaml" --set hardware.adc.bits=6 -o "$tmp/dvs/set.h5" --cache "$tmp/dvs/cache1"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
