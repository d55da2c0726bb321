# SPDX-License-Identifier: MIT
"""What memxbar's plot scripts share: loading h5py and matplotlib (exit 3
with a message when they are missing, so that memxbar can say why there is
no plot), and reading text attributes and units from its HDF5 files."""
import sys


def libraries(script):
    """(h5py, matplotlib.pyplot, numpy), with the Agg backend; exits 3 naming
    the missing package and `script` when one is missing."""
    try:
        import h5py
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import numpy as np
    except ImportError as e:  # pragma: no cover - depends on the machine
        print(f"{script}: {e.name or e} is missing (apt install python3-h5py "
              "python3-matplotlib); the HDF5 file is complete without the plot", file=sys.stderr)
        sys.exit(3)
    return h5py, plt, np


def attr(obj, name, default=""):
    """A text attribute of a file, group or dataset."""
    v = obj.attrs.get(name, default)
    return v.decode() if isinstance(v, bytes) else v


def units(ds):
    """A dataset's `units` attribute ("" when it has none)."""
    return attr(ds, "units")


def axis_label(path, paths):
    """How a swept field is named in a legend: the shortest end of its dotted
    path (whole components) that no other swept path ends with, as memxbar's
    own tables name it ("bits", but "programming.mode" beside
    "fault_mapping.mode")."""
    parts = path.split(".")
    for k in range(1, len(parts) + 1):
        tail = ".".join(parts[-k:])
        if not any(p != path and (p == tail or p.endswith("." + tail)) for p in paths):
            return tail
    return path
