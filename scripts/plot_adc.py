#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Plot an ADC curve written by `memxbar adc curve ... -o FILE.h5`.

    scripts/plot_adc.py FILE.h5 [FILE.png]

Three panels: the transfer curve (output code against input current, instance
0 with its noise, and the ideal ADC of the same type dashed); the DNL per code
and the INL per code in LSB (terminal-based, IEEE 1241), instance 0 as a line
and, with several instances, the band between the smallest and largest value
over the instances. Without FILE.png the picture is FILE with .png.

Needs Debian's python3-h5py and python3-matplotlib; run it with
/usr/bin/python3. Exits 3 (with a message) when they are missing, so that
memxbar can say why there is no plot.
"""
import os
import sys

from mx_plot import attr, libraries, units

h5py, plt, np = libraries("plot_adc.py")


def current_scale(x):
    """A prefix for currents of magnitude x: (factor, unit)."""
    m = float(np.nanmax(np.abs(x))) if np.size(x) else 1.0
    for factor, unit in ((1.0, "A"), (1e3, "mA"), (1e6, "µA"), (1e9, "nA"), (1e12, "pA")):
        if m * factor >= 1.0:
            return factor, unit
    return 1e12, "pA"


def per_code(ax, f, name, what):
    if name not in f:
        ax.text(0.5, 0.5, f"no {what}: fewer than 3 codes", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return
    v = f[name][()]
    codes = f["codes"][()]
    inner = slice(1, len(codes) - 1) if name == "dnl_lsb" else slice(1, len(codes))
    if v.shape[0] > 1:
        ax.fill_between(codes[inner], v[:, inner].min(axis=0), v[:, inner].max(axis=0),
                        step="mid", color="C0", alpha=0.25,
                        label=f"min–max over {v.shape[0]} instances")
    ax.step(codes[inner], v[0, inner], where="mid", color="C0", lw=1.0, label="instance 0")
    ax.axhline(0.0, color="0.5", lw=0.6)
    ax.set_xlabel("output code")
    ax.set_ylabel(f"{what} ({units(f[name])})")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)


def main():
    if len(sys.argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    png = sys.argv[2] if len(sys.argv) == 3 else os.path.splitext(path)[0] + ".png"
    with h5py.File(path, "r") as f:
        if attr(f, "kind") != "adc-curve":
            print(f"plot_adc.py: {path} is not an ADC curve (kind {attr(f, 'kind')!r})",
                  file=sys.stderr)
            return 1
        x = f["input_a"][()]
        factor, unit = current_scale(x)
        fig, axes = plt.subplots(3, 1, figsize=(7.5, 10), constrained_layout=True)
        ax = axes[0]
        ax.step(x * factor, f["code_ideal"][()], where="post", color="0.4", ls="--", lw=1.0,
                label="ideal")
        ax.step(x * factor, f["code"][()], where="post", color="C1", lw=1.0,
                label="instance 0" + (" (with noise)" if f.attrs["noise_sigma_lsb"] > 0 else ""))
        ax.set_xlabel(f"input current ({unit})")
        ax.set_ylabel("output code")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3)
        bits = int(f.attrs["bits"])
        extra = []
        for key, label in (("cap_mismatch_sigma", "σ_C,unit"), ("offset_sigma_lsb", "σ_os (LSB)"),
                           ("noise_sigma_lsb", "σ_n (LSB)")):
            if f.attrs[key] > 0:
                extra.append(f"{label} = {f.attrs[key]:g}")
        ax.set_title(f"{attr(f, 'type')} ADC, {bits} bits, {attr(f, 'polarity')}, full scale "
                     f"{f.attrs['range_a'] * factor:.4g} {unit}"
                     + (("\n" + ", ".join(extra)) if extra else "")
                     + f"\nworst |DNL| {f.attrs['dnl_max_abs_lsb']:.3g} LSB, |INL| "
                     f"{f.attrs['inl_max_abs_lsb']:.3g} LSB, missing codes "
                     f"{int(f.attrs['missing_codes'])}", fontsize=9)
        per_code(axes[1], f, "dnl_lsb", "DNL")
        per_code(axes[2], f, "inl_lsb", "INL")
        fig.savefig(png, dpi=120)
    return 0


if __name__ == "__main__":
    sys.exit(main())
