#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Export a network trained in PyTorch to memxbar's HDF5 weight format.

    scripts/export_torch.py model.pt weights.h5                  # an MLP
    scripts/export_torch.py cnn.pt weights.h5 --input-shape 1 28 28
    scripts/export_torch.py model.npz weights.h5                 # no torch needed

INPUT is a `state_dict` saved with `torch.save(model.state_dict(), path)`
(reading it needs Debian's python3-torch), or a NumPy `.npz` holding the same
names and arrays (`numpy.savez(path, **{k: v.numpy() for k, v in sd.items()})`).
Every `<name>.weight` becomes one memxbar layer, in the state_dict's order:

* rank 2 (`nn.Linear`, (out, in)): a dense layer;
* rank 4 (`nn.Conv2d`, (C_out, C_in, k, k)): a conv layer, stored as its
  unrolled kernel (C_out, C_in·k·k) — the reshape keeps PyTorch's (c, a, b)
  order, the im2col order of snn/conv.h.

memxbar's crossbar layers have no bias (a bias would be one more row driven at
every step): a `<name>.bias` must be all zeros, or the export stops and says
to train with `bias=False`. Anything else (BatchNorm statistics, embeddings)
stops the export naming the entry.

Output: dense layers only → the MLP format ("memxbar-weights", experiments/
weights.h): `sizes` = (inputs, out_0, out_1, ...). With conv layers → the CNN
format ("memxbar-cnn-weights", experiments/cnn_run.h) with `input_shape`
from --input-shape; memxbar then checks every layer against the network its
config describes (model.conv_channels, conv_kernel, conv_padding, pool,
hidden). Use the file with `model.weights: weights.h5` in a sweep config
(docs/snn.md, "Networks trained elsewhere"). Needs python3-h5py and
python3-numpy.
"""
import argparse
import os
import sys

MLP_FORMAT = "memxbar-weights"
CNN_FORMAT = "memxbar-cnn-weights"
BIAS_TOLERANCE = 0.0  # a bias must be exactly zero: anything else changes the network


def fail(msg):
    sys.exit(f"export_torch.py: {msg}")


def load_state(path, np):
    """[(name, numpy array)] in the file's order."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return [(k, np.asarray(z[k])) for k in z.files]
    try:
        import torch
    except ImportError:
        fail(f"{path}: reading a PyTorch file needs python3-torch "
             "(apt install python3-torch), or save the state_dict as .npz")
    sd = torch.load(path, map_location="cpu")
    if hasattr(sd, "state_dict"):  # a whole module was saved
        sd = sd.state_dict()
    if not isinstance(sd, dict):
        fail(f"{path}: expected a state_dict (a dict of tensors), got {type(sd).__name__}")
    return [(k, v.detach().cpu().numpy()) for k, v in sd.items()]


def layers_of(state, np):
    """[(name, kind, 2-D float32 matrix, conv shape or None)]."""
    out = []
    for name, a in state:
        if name.endswith(".bias"):
            if a.size and float(np.max(np.abs(a))) > BIAS_TOLERANCE:
                fail(f"{name}: a non-zero bias (max |b| = {float(np.max(np.abs(a))):g}); "
                     "memxbar's crossbar layers are bias-free: train with bias=False")
            continue
        if not name.endswith(".weight"):
            fail(f"{name}: expected only <layer>.weight and zero <layer>.bias entries "
                 "(Linear, Conv2d); drop or fold it before exporting")
        if not np.all(np.isfinite(a)):
            fail(f"{name}: holds NaN or Inf")
        if a.ndim == 2:
            out.append((name, "dense", a.astype(np.float32), None))
        elif a.ndim == 4:
            if a.shape[2] != a.shape[3]:
                fail(f"{name}: a {a.shape[2]}x{a.shape[3]} kernel; memxbar's kernels are square")
            out.append((name, "conv", a.reshape(a.shape[0], -1).astype(np.float32), a.shape))
        else:
            fail(f"{name}: a rank-{a.ndim} weight; expected Linear (2) or Conv2d (4)")
    if not out:
        fail("no <layer>.weight entries found")
    return out


def write(h5py, np, path, fmt, layers, attrs):
    tmp = path + ".tmp"
    with h5py.File(tmp, "w") as f:
        f.attrs["format"] = fmt
        f.attrs["format_version"] = np.uint64(1)
        f.attrs["n_layers"] = np.uint64(len(layers))
        for k, v in attrs.items():
            f.attrs[k] = v
        for i, (_, _, w, _) in enumerate(layers):
            f.create_dataset(f"layers/{i}/weight", data=w, dtype="<f4")
    os.replace(tmp, path)  # a reader never sees half a file


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("input", help="state_dict (.pt, .pth) or .npz")
    ap.add_argument("output", help="memxbar HDF5 weight file to write")
    ap.add_argument("--input-shape", nargs=3, type=int, metavar=("C", "H", "W"),
                    help="input map of a network with conv layers (MNIST: 1 28 28)")
    a = ap.parse_args(argv)
    try:
        import h5py
        import numpy as np
    except ImportError as e:
        fail(f"{e.name} is missing (apt install python3-h5py python3-numpy)")
    layers = layers_of(load_state(a.input, np), np)
    source = os.path.basename(a.input)
    if any(kind == "conv" for _, kind, _, _ in layers):
        if not a.input_shape:
            fail("the network has conv layers: give --input-shape C H W")
        c, dense_seen = a.input_shape[0], False
        for name, kind, w, shape in layers:
            if kind == "dense":
                dense_seen = True
                continue
            if dense_seen:
                fail(f"{name}: a conv layer after a dense one (memxbar's CNN is conv "
                     "blocks, then dense layers)")
            if shape[1] != c:
                fail(f"{name}: expects {shape[1]} input channels, the map before it has {c}")
            c = shape[0]
        write(h5py, np, a.output, CNN_FORMAT, layers,
              {"input_shape": np.asarray(a.input_shape, dtype=np.uint64),
               "key": f"exported from {source}"})
    else:
        sizes = [layers[0][2].shape[1]]
        for name, _, w, _ in layers:
            if w.shape[1] != sizes[-1]:
                fail(f"{name}: takes {w.shape[1]} inputs, the layer before gives {sizes[-1]}")
            sizes.append(w.shape[0])
        write(h5py, np, a.output, MLP_FORMAT, layers,
              {"sizes": np.asarray(sizes, dtype=np.uint64), "key": f"exported from {source}"})
    kinds = ", ".join(f"{n.rsplit('.', 1)[0]} {k} {w.shape[0]}x{w.shape[1]}"
                      for n, k, w, _ in layers)
    print(f"{a.output}: {len(layers)} layers ({kinds})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
