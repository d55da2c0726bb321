#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot a device curve written by `memxbar device curve NAME -o FILE.h5`.

    scripts/plot_device.py FILE.h5 [FILE.png]

The file's root attribute `kind` says what it holds:
  pulse-response  conductance against pulse number: every cell of the
                  population (thin lines) and the nominal device (thick);
  hysteresis      current against voltage at each frequency (a dynamic model);
  drift           conductance against time after programming (pcm).
The title names the device and its source. Without FILE.png the picture is
FILE with .png.

Needs Debian's python3-h5py and python3-matplotlib; run it with
/usr/bin/python3. Exits 3 (with a message) when they are missing, so that
memxbar can say why there is no plot.
"""
import os
import sys
import textwrap

from mx_plot import attr, libraries, units

h5py, plt, np = libraries("plot_device.py")


def title(ax, f, what):
    device, model = attr(f, "device"), attr(f, "model")
    name = device if device == model else f"{device} ({model} model)"
    src = "\n".join(textwrap.wrap("source: " + attr(f, "source"), 90))
    ax.set_title(f"{name}: {what}\n{src}", fontsize=9)


def plot_pulses(f, ax):
    g = f["conductance_s"][()]
    g_nom = f["nominal_conductance_s"][()]
    x = f["pulse_index"][()]
    scale, unit = 1e6, "µS"
    if float(np.nanmax(np.abs(g_nom))) < 1e-7:
        scale, unit = 1e9, "nS"
    for c in range(g.shape[0]):
        ax.plot(x, g[c] * scale, lw=0.6, alpha=0.45, color="tab:blue",
                label=f"population ({g.shape[0]} cells, with the device's variation)"
                if c == 0 else None)
    ax.plot(x, g_nom * scale, lw=2.0, color="black", label="nominal device (no variation)")
    n = int(attr(f, "pulses_per_branch", 0))
    k = int(attr(f, "cycles", 1))
    for c in range(k):
        ax.axvspan(2 * n * c, 2 * n * c + n, color="tab:green", alpha=0.06,
                   label="potentiating pulses" if c == 0 else None)
        ax.axvspan(2 * n * c + n, 2 * n * (c + 1), color="tab:red", alpha=0.06,
                   label="depressing pulses" if c == 0 else None)
    ax.set_xlabel(f"pulse number ({units(f['pulse_index'])})")
    ax.set_ylabel(f"conductance ({unit})")
    title(ax, f, f"{k} cycle(s) of {n} potentiating + {n} depressing pulses")
    ax.legend(loc="best", fontsize=8)


def plot_hysteresis(f, ax):
    v, i, fr = f["voltage_v"][()], f["current_a"][()], f["frequency_hz"][()]
    periods = int(attr(f, "periods", 1))
    per = (v.shape[1] - 1) // max(periods, 1)
    scale, unit = 1e3, "mA"
    if float(np.nanmax(np.abs(i))) < 1e-5:
        scale, unit = 1e6, "µA"
    for r in range(v.shape[0]):
        last = slice(v.shape[1] - 1 - per, v.shape[1])  # the last period: the settled loop
        ax.plot(v[r, last], i[r, last] * scale, lw=1.2, label=f"{fr[r]:.3g} Hz")
    ax.axhline(0, color="gray", lw=0.5)
    ax.axvline(0, color="gray", lw=0.5)
    ax.set_xlabel(f"voltage ({units(f['voltage_v'])})")
    ax.set_ylabel(f"current ({unit})")
    amp = float(attr(f, "amplitude_v", 0.0))
    title(ax, f, f"pinched i–v hysteresis under ±{amp:g} V sines (last period)")
    ax.legend(title="frequency", loc="best", fontsize=8)


def plot_drift(f, ax):
    t, g = f["time_s"][()], f["conductance_s"][()]
    g_nom, lv = f["nominal_conductance_s"][()], f["nominal_target_s"][()]
    keep = t > 0  # a log axis
    for c in range(g.shape[0]):
        ax.plot(t[keep], g[c, keep] * 1e6, lw=0.6, alpha=0.45, color="tab:blue",
                label=f"population ({g.shape[0]} cells)" if c == 0 else None)
    for r in range(g_nom.shape[0]):
        ax.plot(t[keep], g_nom[r, keep] * 1e6, lw=2.0, color="black",
                label="drift at the mean exponent" if r == 0 else None)
        ax.annotate(f"{lv[r] * 1e6:.3g} µS", (t[keep][0], g_nom[r, keep][0] * 1e6),
                    fontsize=7, xytext=(2, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel(f"time after programming ({units(f['time_s'])})")
    ax.set_ylabel("conductance (µS)")
    title(ax, f, "conductance drift and accumulated 1/f noise")
    ax.legend(loc="best", fontsize=8)


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    png = argv[2] if len(argv) == 3 else os.path.splitext(path)[0] + ".png"
    with h5py.File(path, "r") as f:
        kind = attr(f, "kind")
        fig, ax = plt.subplots(figsize=(8, 5.2))
        if kind == "pulse-response":
            plot_pulses(f, ax)
        elif kind == "hysteresis":
            plot_hysteresis(f, ax)
        elif kind == "drift":
            plot_drift(f, ax)
        else:
            print(f"plot_device.py: {path}: unknown kind '{kind}'", file=sys.stderr)
            return 1
    ax.grid(alpha=0.3)
    fig.tight_layout()
    tmp = png + ".partial.png"
    fig.savefig(tmp, dpi=130)
    os.replace(tmp, png)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
