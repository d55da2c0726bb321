#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""The best combination of mitigations per device at a fixed energy budget.

    scripts/codesign_table.py RESULTS.h5 (--budget-nj B | --budget-factor F)
                              [--inferences N] [--by COLUMN] [--plot OUT.png]

Reads /summary of a sweep over devices x mitigation switches x design knobs
(examples/codesign.yaml) and prints a Markdown table. For each device (the
swept column --by; by default the one ending in "preset" or "device.type"):
- the most accurate combination whose energy per inference stays within the
  budget, and its accuracy;
- the most accurate one without any mitigation (every switch off) within the
  same budget;
- the most accurate combination at any energy.

The energy of a combination is the energy of one inference (energy_j) plus
its one-time costs spread over a deployment of N inferences: write-verify
programming (program_energy_j), the fault test (fault_energy_j), column
calibration (colcal_energy_j), drift compensation reads (drift_energy_j)
and threshold re-balancing (rebalance_energy_j). A cost column that is NaN
(the mitigation is off) counts as 0. Repeats are averaged.

The budget is absolute (--budget-nj), or relative to each device
(--budget-factor F: F times the energy per inference of that device's
cheapest run without mitigation): devices differ in energy by 50x (their
conductances), so one absolute budget leaves some with nothing that fits.

A swept column is a mitigation switch when it holds text: it is off at none,
open-loop, plain, off or false. Numeric columns (ADC bits, ...) are design
knobs: every value is a candidate.
"""
import argparse
import math
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mx_plot  # noqa: E402

ONE_TIME = ("program_energy_j", "fault_energy_j", "colcal_energy_j", "drift_energy_j",
            "rebalance_energy_j")
OFF = {"none", "open-loop", "plain", "off", "false"}


def text(v):
    return v.decode() if isinstance(v, bytes) else v


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results")
    budget = ap.add_mutually_exclusive_group(required=True)
    budget.add_argument("--budget-nj", type=float,
                        help="energy per inference allowed, one-time costs included, nJ")
    budget.add_argument("--budget-factor", type=float,
                        help="energy allowed per inference, as a multiple of each device's "
                             "cheapest run without mitigation")
    ap.add_argument("--inferences", type=float, default=1e6,
                    help="inferences the one-time costs are spread over (default 1e6)")
    ap.add_argument("--by", help="the device column (default: the swept one ending in "
                                 "'preset' or 'device.type')")
    ap.add_argument("--plot", help="also draw the table as a bar chart into this PNG")
    args = ap.parse_args()
    h5py, plt, np = mx_plot.libraries("codesign_table.py")
    try:
        with h5py.File(args.results, "r") as f:
            s = f["summary"][()]
    except (OSError, KeyError) as e:
        sys.exit(f"codesign_table.py: {args.results}: {e}")
    names = s.dtype.names
    # the swept columns sit between `repeat` and `accuracy` (docs/results-format.md)
    axes = list(names[names.index("repeat") + 1:names.index("accuracy")])
    by = args.by or next((a for a in axes if a.endswith("preset") or a.endswith("device.type")),
                         None)
    if by not in axes:
        sys.exit(f"codesign_table.py: no device column (--by); swept: {', '.join(axes)}")
    knobs = [a for a in axes if a != by]
    switches = [a for a in knobs if s.dtype[a].kind not in "fiu"]

    # mean over repeats of accuracy and energy, per (device, combination)
    runs = defaultdict(list)
    for row in s:
        key = (text(row[by]), tuple(text(row[a]) if a in switches else float(row[a])
                                    for a in knobs))
        once = sum(0.0 if math.isnan(float(row[c])) else float(row[c])
                   for c in ONE_TIME if c in names)
        runs[key].append((100.0 * float(row["accuracy"]),
                          1e9 * (float(row["energy_j"]) + once / args.inferences)))
    combos = defaultdict(list)  # device -> [(accuracy, energy nJ, combination)]
    for (device, combo), vals in runs.items():
        combos[device].append((float(np.mean([v[0] for v in vals])),
                               float(np.mean([v[1] for v in vals])), combo))

    def describe(combo):
        on = [f"{mx_plot.axis_label(a, knobs)}={v}" for a, v in zip(knobs, combo)
              if a in switches and v not in OFF]
        tune = [f"{mx_plot.axis_label(a, knobs)}={v:g}" for a, v in zip(knobs, combo)
                if a not in switches]
        return ", ".join(on or ["no mitigation"]) + (f" ({', '.join(tune)})" if tune else "")

    def best(cands):
        return max(cands, key=lambda c: (c[0], -c[1])) if cands else None

    def plain(combo):
        return all(v in OFF for a, v in zip(knobs, combo) if a in switches)

    what = (f"{args.budget_nj:g} nJ per inference" if args.budget_nj is not None else
            f"{args.budget_factor:g} x the energy per inference of the device's cheapest run "
            "without mitigation")
    print(f"Budget {what}; one-time costs spread over {args.inferences:g} inferences "
          f"({args.results}, {len(s)} runs)\n")
    print("| device | budget nJ/inf | best within budget | accuracy % | nJ/inf | no mitigation "
          "within budget | accuracy % | best at any energy | accuracy % | nJ/inf |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    rows = []
    for device in sorted(combos):
        c = combos[device]
        if args.budget_nj is not None:
            limit = args.budget_nj
        else:
            plain_e = [x[1] for x in c if plain(x[2])]
            limit = args.budget_factor * min(plain_e) if plain_e else float("nan")
        within = [x for x in c if x[1] <= limit]
        b, p, a = best(within), best([x for x in within if plain(x[2])]), best(c)
        cell = (lambda x: (describe(x[2]), f"{x[0]:.1f}", f"{x[1]:.1f}") if x
                else ("nothing fits", "–", "–"))
        bb, pp, aa = cell(b), cell(p), cell(a)
        print(f"| {device} | {limit:.1f} | {bb[0]} | {bb[1]} | {bb[2]} | {pp[0]} | {pp[1]} | "
              f"{aa[0]} | {aa[1]} | {aa[2]} |")
        rows.append((device, b[0] if b else float("nan"), p[0] if p else float("nan")))
    if args.plot:
        x = np.arange(len(rows))
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.bar(x - 0.2, [r[2] for r in rows], 0.4, label="no mitigation")
        ax.bar(x + 0.2, [r[1] for r in rows], 0.4, label="best combination")
        digital = 100.0 * float(np.max(s["accuracy_snn_digital"]))
        ax.axhline(digital, color="gray", ls="--", lw=1, label=f"digital SNN ({digital:.1f} %)")
        ax.set_xticks(x, [r[0] for r in rows], rotation=20)
        ax.set_ylabel("test accuracy of the crossbar SNN (%)")
        ax.set_title(f"budget: {what}\n(one-time costs over {args.inferences:g} inferences)",
                     fontsize=9)
        ax.grid(axis="y", alpha=0.3)
        ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=3)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=120)
        print(f"\n{args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
