#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot a memxbar results file: accuracy against the first numeric swept field,
one line per combination of the other swept fields (error bars over repeats),
and accuracy against time step for every point. Writes PNGs beside the file.

    scripts/plot_results.py results/default.h5

Needs Debian's python3-h5py and python3-matplotlib (installed by memxbar.sh);
run it with /usr/bin/python3.
"""
import os
import sys
from collections import defaultdict

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mx_plot import axis_label  # noqa: E402

METRICS = ("accuracy", "accuracy_snn_digital", "accuracy_ann", "adc_clip_rate",
           "n_test", "eval_seconds", "point", "repeat", "energy_j", "latency_s", "area_mm2")


def text(v):
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, (float, np.floating)) and float(v).is_integer():
        return str(int(v))
    return str(v)


def main(path):
    with h5py.File(path, "r") as f:
        s = f["summary"][()]
        # The swept columns sit between `repeat` and `accuracy`
        # (docs/results-format.md); every column after them is a metric.
        names = s.dtype.names
        axes = [n for n in names[names.index("repeat") + 1:names.index("accuracy")]
                if n not in METRICS]
        numeric = [a for a in axes if s.dtype[a].kind == "f"]
        if not axes:
            print("no swept fields: nothing to plot against")
            return 0
        x_axis = numeric[0] if numeric else axes[0]
        others = [a for a in axes if a != x_axis]
        groups = defaultdict(lambda: defaultdict(list))
        for row in s:
            key = tuple(text(row[a]) for a in others)
            groups[key][float(row[x_axis]) if x_axis in numeric else text(row[x_axis])].append(
                100.0 * row["accuracy"])
        fig, ax = plt.subplots(figsize=(7.5, 5))
        def numeric_first(key):  # 64 < 128 < 256, not "128" < "256" < "64"
            return tuple((0, float(k), "") if k.replace(".", "", 1).lstrip("-").isdigit()
                         else (1, 0.0, k) for k in key)

        for key, pts in sorted(groups.items(), key=lambda kv: numeric_first(kv[0])):
            xs = sorted(pts)
            mean = [np.mean(pts[x]) for x in xs]
            err = [np.std(pts[x], ddof=1) if len(pts[x]) > 1 else 0.0 for x in xs]
            label = ", ".join(f"{axis_label(o, axes)}={k}" for o, k in zip(others, key)) or "crossbar SNN"
            ax.errorbar(xs, mean, yerr=err, marker="o", capsize=3, label=label)
        digital = 100.0 * float(np.max(s["accuracy_snn_digital"]))
        ax.axhline(digital, color="gray", ls="--", lw=1,
                   label=f"digital SNN, best network ({digital:.2f} %)")
        unit = (" (relative σ)" if x_axis.endswith("sigma") else
                " (Ω)" if x_axis.endswith("_ohm") else " (V)" if x_axis.endswith("_v") else
                " (s)" if x_axis.endswith("_s") else "")
        ax.set_xlabel(x_axis + unit)
        ax.set_ylabel("test accuracy of the crossbar SNN (%)")
        n_test = int(s["n_test"][0])
        repeats = int(s["repeat"].max()) + 1
        spread = "error bars: std over repeats" if repeats > 1 else "1 repeat"
        ax.set_title(f"{path}: {n_test} test images, {spread}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        out1 = path.rsplit(".", 1)[0] + "-accuracy.png"
        fig.tight_layout()
        fig.savefig(out1, dpi=120)

        fig, ax = plt.subplots(figsize=(7.5, 5))
        # Up to 8 points: one labelled line each. More: one colour per value
        # of the first swept field, its lines the combinations of the others.
        many = len(f["points"]) > 8
        colours, seen = {}, set()
        for k in sorted(f["points"], key=int):
            for r in sorted(f["points"][k], key=int):
                g = f["points"][k][r]
                acc = 100.0 * g["accuracy_vs_step"][()]
                if many:
                    v = text(g.attrs[x_axis]) if x_axis in g.attrs else "?"
                    colour = colours.setdefault(v, f"C{len(colours) % 10}")
                    label = None if v in seen else f"{axis_label(x_axis, axes)}={v}"
                    seen.add(v)
                    ax.plot(np.arange(1, len(acc) + 1), acc, lw=0.8, color=colour, label=label)
                else:
                    label = ", ".join(f"{axis_label(a, axes)}={text(g.attrs[a])}" for a in axes
                                      if a in g.attrs)
                    ax.plot(np.arange(1, len(acc) + 1), acc, lw=1,
                            label=label if r == "0" else None)
        ax.set_xscale("log")  # the rise happens in the first steps
        steps = [2 ** i for i in range(12) if 2 ** i <= max(len(acc), 1)]
        ax.set_xticks(steps, [str(t) for t in steps])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xlabel("time step")
        ax.set_ylabel("accuracy using spikes so far (%)")
        ax.set_ylim(0, 100)
        ax.grid(alpha=0.3, which="both")
        if many and others:
            ax.set_title(f"{path}: one colour per {axis_label(x_axis, axes)}; its lines: "
                         + ", ".join(axis_label(o, axes) for o in others), fontsize=9)
        ax.legend(fontsize=7 if many else 6, ncol=1 if many else 2)
        out2 = path.rsplit(".", 1)[0] + "-timesteps.png"
        fig.tight_layout()
        fig.savefig(out2, dpi=120)
        outs = [out1, out2]
        if "energy_j" in s.dtype.names and np.any(s["energy_j"] > 0):
            outs.append(energy_plot(path, s, x_axis, others, numeric))
    for o in outs:
        print(o)
    return 0


def pareto(points):
    """The points no other point beats in both energy (lower) and accuracy
    (higher), by increasing energy."""
    front, best = [], -np.inf
    for e, a in sorted(points):
        if a > best:
            front.append((e, a))
            best = a
    return front


def label_spots(ax, spots, radius_px=12):
    """Label points with their first-axis value; points closer on screen than
    radius_px (of any series) share one label, so labels do not overprint."""
    ax.autoscale_view()
    clusters = []  # [x_px, y_px, first point, labels]
    for ev, av, name in spots:
        x, y = ax.transData.transform((ev, av))
        for c in clusters:
            if abs(c[0] - x) < radius_px and abs(c[1] - y) < radius_px:
                if name not in c[3]:
                    c[3].append(name)
                break
        else:
            clusters.append([x, y, (ev, av), [name]])
    for _, _, at, names in clusters:
        ax.annotate(", ".join(names), at, textcoords="offset points", xytext=(5, -10), fontsize=7)


def energy_plot(path, s, x_axis, others, numeric):
    """Accuracy against energy per inference: one series per combination of
    the other swept fields, each point labelled with the first axis' value,
    mean ± std over repeats in both coordinates, and the Pareto front."""
    groups = defaultdict(lambda: defaultdict(list))
    for row in s:
        key = tuple(text(row[a]) for a in others)
        x = float(row[x_axis]) if x_axis in numeric else text(row[x_axis])
        groups[key][x].append((1e9 * row["energy_j"], 100.0 * row["accuracy"]))
    fig, ax = plt.subplots(figsize=(7.5, 5))
    everything = []
    spots = []
    for key, pts in sorted(groups.items()):
        xs = sorted(pts)
        e = np.array([np.mean([p[0] for p in pts[x]]) for x in xs])
        a = np.array([np.mean([p[1] for p in pts[x]]) for x in xs])
        ea = [np.std([p[0] for p in pts[x]], ddof=1) if len(pts[x]) > 1 else 0.0 for x in xs]
        aa = [np.std([p[1] for p in pts[x]], ddof=1) if len(pts[x]) > 1 else 0.0 for x in xs]
        label = ", ".join(f"{axis_label(o, others + [x_axis])}={k}" for o, k in zip(others, key)) or "crossbar"
        ax.errorbar(e, a, xerr=ea, yerr=aa, marker="o", capsize=3, label=label)
        spots += [(ev, av, text(xv)) for xv, ev, av in zip(xs, e, a)]
        everything += list(zip(e, a))
    front = pareto(everything)
    # the front's points ringed, so a front of one point still shows
    ax.plot([p[0] for p in front], [p[1] for p in front], ls="none", marker="o", ms=11,
            mfc="none", mec="black", mew=1.2, label="Pareto front")
    ax.step([p[0] for p in front], [p[1] for p in front], where="post", color="black", lw=1,
            ls="--")
    ax.set_xscale("log")
    # energies often span less than a decade: label the minor ticks too
    ax.xaxis.set_minor_formatter(matplotlib.ticker.LogFormatterSciNotation(labelOnlyBase=False,
                                                                           minor_thresholds=(2, 0.5)))
    ax.tick_params(axis="x", which="minor", labelsize=7)
    label_spots(ax, spots)
    ax.set_xlabel("energy per inference (nJ)")
    ax.set_ylabel("test accuracy of the crossbar network (%)")
    ax.set_title(f"{path}: point labels = {axis_label(x_axis, others + [x_axis])}", fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    out = path.rsplit(".", 1)[0] + "-energy.png"
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: scripts/plot_results.py RESULTS.h5")
    sys.exit(main(sys.argv[1]))
