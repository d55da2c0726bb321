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
