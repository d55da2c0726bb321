#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Compare learning methods on the same non-ideal hardware: several memxbar
results files (one per method, each a sweep over hardware.device.d2d_sigma
and hardware.adc.bits) become one table and one figure.

    scripts/compare_methods.py -o docs/img/methods-robustness.png \\
        conversion=results/default.h5 surrogate=results/surrogate.h5 ...

For every method and every (σ, ADC bits) point: the crossbar accuracy (mean
over repeats), the same network on the exact digital path, and the points
lost to the hardware (digital − crossbar). The figure plots the loss against
σ, one panel per ADC resolution, one line per method: the flattest line is
the most robust method. The table goes to stdout as Markdown.

Needs Debian's python3-h5py and python3-matplotlib; run with /usr/bin/python3.
"""
import argparse
import os
import sys
from collections import defaultdict

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import mx_plot  # noqa: E402

SIGMA = "d2d_sigma"
BITS = "bits"


def column(names, suffix):
    """The /summary column whose dotted path ends in `suffix`, or None."""
    for n in names:
        if n == suffix or n.endswith("." + suffix):
            return n
    return None


def text(v):
    return v.decode() if isinstance(v, bytes) else f"{v:g}"


def load(h5py, np, label, path):
    """[(label, {(sigma, bits): (crossbar %, digital %)})], averaged over
    repeats: one entry per combination of the file's other swept fields
    (training.mode, ...), named label + those values. A field not swept
    counts as one value (σ NaN, bits −1)."""
    with h5py.File(path, "r") as f:
        s = f["summary"][()]
    names = s.dtype.names
    cs, cb = column(names, SIGMA), column(names, BITS)
    # the swept columns sit between `repeat` and `accuracy`
    # (docs/results-format.md); the metrics after them may grow
    axes = names[names.index("repeat") + 1:names.index("accuracy")]
    others = [n for n in axes if n not in (cs, cb)]
    groups = defaultdict(lambda: defaultdict(lambda: ([], [])))
    for row in s:
        name = " ".join([label] + [f"{mx_plot.axis_label(o, others)}={text(row[o])}" for o in others])
        key = (float(row[cs]) if cs else float("nan"), int(row[cb]) if cb else -1)
        groups[name][key][0].append(100.0 * float(row["accuracy"]))
        groups[name][key][1].append(100.0 * float(row["accuracy_snn_digital"]))
    return [(name, {k: (float(np.mean(v[0])), float(np.mean(v[1]))) for k, v in pts.items()})
            for name, pts in groups.items()]


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", metavar="LABEL=RESULTS.h5")
    ap.add_argument("-o", "--output", default="methods-robustness.png", help="PNG to write")
    a = ap.parse_args(argv)
    h5py, plt, np = mx_plot.libraries("compare_methods.py")
    methods = []
    for spec in a.runs:
        if "=" not in spec:
            sys.exit(f"compare_methods.py: {spec}: expected LABEL=RESULTS.h5")
        label, path = spec.split("=", 1)
        try:
            methods += load(h5py, np, label, path)
        except (OSError, KeyError) as e:
            sys.exit(f"compare_methods.py: {path}: not a memxbar results file ({e})")

    print("| method | σ | ADC bits | crossbar (%) | digital (%) | lost (points) |")
    print("|---|---|---|---|---|---|")
    for label, pts in methods:
        for (sigma, bits), (acc, dig) in sorted(pts.items()):
            print(f"| {label} | {sigma:g} | {bits if bits >= 0 else '-'} | {acc:.2f} | "
                  f"{dig:.2f} | {dig - acc:.2f} |")

    all_bits = sorted({b for _, pts in methods for (_, b) in pts})
    fig, axes = plt.subplots(1, len(all_bits), figsize=(5.2 * len(all_bits), 4.4),
                             squeeze=False, sharey=True)
    for ax, bits in zip(axes[0], all_bits):
        for m, (label, pts) in enumerate(methods):  # one colour per method in every panel
            xs = sorted(s for (s, b) in pts if b == bits)
            if not xs:
                continue
            ax.plot(xs, [pts[(s, bits)][1] - pts[(s, bits)][0] for s in xs], marker="o",
                    color=f"C{m % 10}", label=label)
        ax.axhline(0.0, color="gray", lw=0.8)
        ax.set_title(f"{bits}-bit ADC" if bits >= 0 else "ADC bits not swept", fontsize=10)
        ax.set_xlabel("device-to-device variation σ (relative)")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("accuracy lost to the hardware (points)\n(digital − crossbar)")
    handles = {}
    for ax in axes[0]:  # every method once, whichever panels it appears in
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    fig.legend(handles.values(), handles.keys(), loc="lower center", ncol=min(len(handles), 4),
               fontsize=8)
    fig.subplots_adjust(bottom=0.3)
    fig.tight_layout(rect=(0, 0.12, 1, 1))
    fig.savefig(a.output, dpi=120)
    print(a.output, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
