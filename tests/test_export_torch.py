#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Weights in from outside: a 784-256-10 bias-free ReLU network built in NumPy
(a random ReLU projection and a ridge-regression readout, ~90 % on MNIST, no
training loop) goes through scripts/export_torch.py into memxbar's weight
format, and `memxbar sweep` with `model.weights` evaluates it. The ANN
accuracy memxbar reports on the first 300 test images must equal the one
NumPy computes from the same weights (the exported file is the network, bit
for bit), and the converted SNN on the crossbar must work (> 80 %). Where
python3-torch is installed, the same weights saved as a PyTorch state_dict
(nn.Linear, bias=False) must export to identical datasets.

Usage: test_export_torch.py MEMXBAR SOURCE_ROOT [DATA_DIR]
(DATA_DIR: default $MEMXBAR_DATA, else SOURCE_ROOT/../shared/data, else
SOURCE_ROOT/data — where memxbar looks too.)
"""
import gzip
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

N_TEST = 300


def idx(path):
    with gzip.open(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def main(memxbar, root, data):
    mn = os.path.join(data, "mnist")
    xtr = idx(os.path.join(mn, "train-images-idx3-ubyte.gz"))[:10000].reshape(-1, 784) / 255.0
    ytr = idx(os.path.join(mn, "train-labels-idx1-ubyte.gz"))[:10000]
    xte = idx(os.path.join(mn, "t10k-images-idx3-ubyte.gz"))[:N_TEST].reshape(-1, 784)
    yte = idx(os.path.join(mn, "t10k-labels-idx1-ubyte.gz"))[:N_TEST]
    xte = (xte.astype(np.float32) / np.float32(255.0))

    rng = np.random.default_rng(7)
    w1 = rng.normal(0.0, 1.0 / np.sqrt(784.0), (256, 784)).astype(np.float32)
    h = np.maximum(xtr @ w1.T.astype(np.float64), 0.0)
    onehot = np.eye(10)[ytr]
    w2 = np.linalg.solve(h.T @ h + 1e-2 * np.eye(256), h.T @ onehot).T.astype(np.float32)
    logits = np.maximum(xte @ w1.T, 0.0) @ w2.T
    acc_numpy = float(np.mean(np.argmax(logits, axis=1) == yte))

    with tempfile.TemporaryDirectory(prefix="mx_export_") as tmp:
        npz = os.path.join(tmp, "net.npz")
        np.savez(npz, **{"fc1.weight": w1, "fc1.bias": np.zeros(256, np.float32),
                         "fc2.weight": w2})
        out = os.path.join(tmp, "net.h5")
        script = os.path.join(root, "scripts", "export_torch.py")
        subprocess.run([sys.executable, script, npz, out], check=True)
        with h5py.File(out, "r") as f:
            assert f.attrs["format"] in ("memxbar-weights", b"memxbar-weights")
            assert list(f.attrs["sizes"]) == [784, 256, 10]
            assert np.array_equal(f["layers/0/weight"][()], w1)
            assert np.array_equal(f["layers/1/weight"][()], w2)

        # A non-zero bias is refused with its name.
        bad = os.path.join(tmp, "bad.npz")
        np.savez(bad, **{"fc1.weight": w1, "fc1.bias": np.ones(256, np.float32)})
        r = subprocess.run([sys.executable, script, bad, os.path.join(tmp, "bad.h5")],
                           capture_output=True, text=True)
        assert r.returncode != 0 and "fc1.bias" in r.stderr, r.stderr

        try:
            import torch
        except ImportError:
            print("python3-torch not installed: the .pt path is not exercised here")
        else:
            model = torch.nn.Sequential(torch.nn.Linear(784, 256, bias=False), torch.nn.ReLU(),
                                        torch.nn.Linear(256, 10, bias=False))
            with torch.no_grad():
                model[0].weight.copy_(torch.from_numpy(w1))
                model[2].weight.copy_(torch.from_numpy(w2))
            pt = os.path.join(tmp, "net.pt")
            torch.save(model.state_dict(), pt)
            out_pt = os.path.join(tmp, "net-pt.h5")
            subprocess.run([sys.executable, script, pt, out_pt], check=True)
            with h5py.File(out_pt, "r") as f:
                assert np.array_equal(f["layers/0/weight"][()], w1)
                assert np.array_equal(f["layers/1/weight"][()], w2)
            print("PyTorch state_dict exported to the same datasets")

        res = os.path.join(tmp, "res.h5")
        cmd = [memxbar, "sweep", os.path.join(root, "examples", "default.yaml"), "--quiet",
               "--data", data, "-o", res, "--set", f"model.weights={out}",
               "--set", "model.hidden=[256]", "--set", f"dataset.test_limit={N_TEST}",
               "--set", "dataset.train_limit=1000",
               "--set", "hardware.device.d2d_sigma=0", "--set", "hardware.adc.bits=8",
               "--set", "training.mode=plain"]
        subprocess.run(cmd, check=True)
        with h5py.File(res, "r") as f:
            s = f["summary"][()]
        acc_ann = float(s["accuracy_ann"][0])
        acc_snn = float(s["accuracy"][0])
        print(f"exported network: NumPy {100 * acc_numpy:.2f} %, memxbar ANN "
              f"{100 * acc_ann:.2f} %, crossbar SNN {100 * acc_snn:.2f} %")
        # Same weights, same images: the same predictions up to float
        # summation order (at most one image of 300 may flip on a near tie).
        assert abs(acc_ann - acc_numpy) <= 1.0 / N_TEST + 1e-12, (acc_ann, acc_numpy)
        assert acc_numpy > 0.8 and acc_snn > 0.8

        # A CNN: Conv2d(1 -> 4, 3, padding 1) - ReLU - AvgPool2 - Linear(784 -> 10),
        # random kernels and a ridge readout, through the CNN format.
        wc = rng.normal(0.0, 1.0 / 3.0, (4, 1, 3, 3)).astype(np.float32)

        def features(x):  # (n, 784) -> (n, 4·14·14), the CNN's pooled ReLU map
            img = np.pad(x.reshape(-1, 28, 28), ((0, 0), (1, 1), (1, 1)))
            win = np.lib.stride_tricks.sliding_window_view(img, (3, 3), axis=(1, 2))
            z = np.maximum(np.einsum("nhwab,cab->nchw", win, wc[:, 0]), 0.0)
            return z.reshape(-1, 4, 14, 2, 14, 2).mean(axis=(3, 5)).reshape(len(x), -1)

        f = features(xtr)
        wd = np.linalg.solve(f.T @ f + 1e-1 * np.eye(784), f.T @ onehot).T.astype(np.float32)
        acc_cnn_numpy = float(np.mean(np.argmax(features(xte) @ wd.T, axis=1) == yte))
        npz_c = os.path.join(tmp, "cnn.npz")
        np.savez(npz_c, **{"conv1.weight": wc, "fc.weight": wd})
        out_c = os.path.join(tmp, "cnn.h5")
        subprocess.run([sys.executable, script, npz_c, out_c, "--input-shape", "1", "28", "28"],
                       check=True)
        res_c = os.path.join(tmp, "res-cnn.h5")
        cmd = [memxbar, "sweep", os.path.join(root, "examples", "cnn-conversion.yaml"),
               "--quiet", "--data", data, "-o", res_c, "--set", f"model.weights={out_c}",
               "--set", "model.conv_channels=[4]", "--set", "dataset.test_limit=100",
               "--set", "dataset.train_limit=1000", "--set", "hardware.device.d2d_sigma=0",
               "--set", "hardware.adc.bits=8"]
        subprocess.run(cmd, check=True)
        with h5py.File(res_c, "r") as f:
            s = f["summary"][()]
        acc_c = float(s["accuracy_ann"][0])
        acc_c_np = float(np.mean(np.argmax(features(xte[:100]) @ wd.T, axis=1) == yte[:100]))
        print(f"exported CNN: NumPy {100 * acc_c_np:.2f} %, memxbar ANN {100 * acc_c:.2f} %, "
              f"crossbar SNN {100 * float(s['accuracy'][0]):.2f} % (100 images; NumPy on "
              f"{N_TEST}: {100 * acc_cnn_numpy:.2f} %)")
        assert abs(acc_c - acc_c_np) <= 0.01 + 1e-12, (acc_c, acc_c_np)
        assert acc_c_np > 0.8
        # A CNN file whose layers do not fit the config is refused, naming the field.
        r = subprocess.run(cmd[:-4] + ["--set", "model.conv_channels=[8]"] + cmd[-4:],
                           capture_output=True, text=True)
        assert r.returncode == 1 and "model.weights" in r.stderr, r.stderr
    return 0


def data_dir(root):
    for d in (os.environ.get("MEMXBAR_DATA"), os.path.join(root, "..", "shared", "data"),
              os.path.join(root, "data")):
        if d and os.path.isdir(os.path.join(d, "mnist")):
            return d
    sys.exit("test_export_torch.py: no MNIST folder found (set MEMXBAR_DATA)")


if __name__ == "__main__":
    if len(sys.argv) not in (3, 4):
        sys.exit(__doc__)
    exe, src = sys.argv[1], os.path.abspath(sys.argv[2])
    sys.exit(main(exe, src, sys.argv[3] if len(sys.argv) == 4 else data_dir(src)))
