"""The C3D network (Tran et al. 2015) and its published weights layouts: the Sports-1M PyTorch
port and mmaction2's checkpoints. The extractor that feeds it clips is ``C3DExtractor`` in
extractors.py, beside I3D's."""

import re
from pathlib import Path

import torch
from torch import nn

from action2vec import Action2VecError
from action2vec.files import file_sha256


class C3D(nn.Module):
    """C3D (Tran et al. 2015): 8 conv layers, 5 pools, fc6, fc7 (fc8 only to load weights).

    Layer names follow the widely used PyTorch port of the Sports-1M weights, so its
    state_dict loads as it is.
    """

    def __init__(self, num_classes=487):
        super().__init__()
        conv = dict(kernel_size=3, padding=1)
        self.conv1 = nn.Conv3d(3, 64, **conv)
        self.pool1 = nn.MaxPool3d((1, 2, 2), (1, 2, 2))
        self.conv2 = nn.Conv3d(64, 128, **conv)
        self.pool2 = nn.MaxPool3d(2, 2)
        self.conv3a = nn.Conv3d(128, 256, **conv)
        self.conv3b = nn.Conv3d(256, 256, **conv)
        self.pool3 = nn.MaxPool3d(2, 2)
        self.conv4a = nn.Conv3d(256, 512, **conv)
        self.conv4b = nn.Conv3d(512, 512, **conv)
        self.pool4 = nn.MaxPool3d(2, 2)
        self.conv5a = nn.Conv3d(512, 512, **conv)
        self.conv5b = nn.Conv3d(512, 512, **conv)
        self.pool5 = nn.MaxPool3d(2, 2, padding=(0, 1, 1))
        self.fc6 = nn.Linear(8192, 4096)
        self.fc7 = nn.Linear(4096, 4096)
        self.fc8 = nn.Linear(4096, num_classes)
        for module in self.modules():
            if isinstance(module, (nn.Conv3d, nn.Linear)):
                # He initialisation keeps activations at scale through the ReLUs, so even
                # unloaded (random) weights give features with usable variance.
                nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
                nn.init.zeros_(module.bias)

    def forward(self, x, layer="fc7"):
        """x: (N, 3, 16, 112, 112) -> activations of ``layer`` after ReLU (fc6 or fc7)."""
        relu = torch.relu
        x = self.pool1(relu(self.conv1(x)))
        x = self.pool2(relu(self.conv2(x)))
        x = self.pool3(relu(self.conv3b(relu(self.conv3a(x)))))
        x = self.pool4(relu(self.conv4b(relu(self.conv4a(x)))))
        x = self.pool5(relu(self.conv5b(relu(self.conv5a(x)))))
        x = relu(self.fc6(x.flatten(1)))
        if layer == "fc6":
            return x
        return relu(self.fc7(x))


# mmaction2's C3D names its first two convs conv1a/conv2a and wraps each in a ConvModule.
MMACTION2_RENAMES = {"conv1a": "conv1", "conv2a": "conv2"}

# The input each weights layout expects: channel order and per-channel mean (in that order),
# std 1, 0-255 pixels.
# - port: converted from Caffe's Sports-1M C3D, which read frames with OpenCV, so BGR; the mean is
#   the per-channel average of Caffe's sport1m_train16_128_mean (B 90.25, G 97.66, R 101.41),
#   as worked out in DavideA/c3d-pytorch issue #1 (the port's predict.py itself feeds RGB without
#   a mean; with BGR and this mean its sample clip is "tennis" at 0.99994). Caffe subtracts the
#   whole 16x128x171 mean cube; the per-channel average is the usual approximation.
# - mmaction2: its C3D configs decode frames as RGB (RawFrameDecode/DecordDecode) and normalise
#   with mean [104, 117, 128], std [1, 1, 1], to_bgr=False, so RGB minus (104, 117, 128). Not
#   established: whether the Sports-1M-only backbone file (keys without "backbone.") was
#   converted for RGB or kept Caffe's BGR; it is given mmaction2's own pipeline here.
C3D_INPUT = {"port": {"channels": "BGR", "mean": (90.25, 97.66, 101.41)},
             "mmaction2": {"channels": "RGB", "mean": (104.0, 117.0, 128.0)}}


def mmaction2_backbone(state):
    """The backbone arrays of an mmaction2 checkpoint: a recognizer's (keys "backbone.*", its
    cls_head dropped) or a backbone's own (keys "conv1a.conv.weight", ...)."""
    state = state.get("state_dict", state)
    prefix = "backbone."
    if any(str(key).startswith(prefix) for key in state):
        return {key[len(prefix):]: v for key, v in state.items() if str(key).startswith(prefix)}
    return state


def convert_mmaction2(state):
    """mmaction2 checkpoint -> the port's state_dict layout (backbone only)."""
    out = {}
    for key, value in mmaction2_backbone(state).items():
        parts = [MMACTION2_RENAMES.get(p, p) for p in key.split(".") if p != "conv"]
        out[".".join(parts)] = value
    return out


def weights_layout(state, path):
    """Which published layout a loaded weights file has: 'port' or 'mmaction2'."""
    if not isinstance(state, dict):
        raise Action2VecError(f"features.weights: {path} holds a {type(state).__name__}, not a "
                              "dict of tensors (a state_dict or a checkpoint)")
    if "conv1a.conv.weight" in mmaction2_backbone(state):
        return "mmaction2"
    if "conv1.weight" in state:
        return "port"
    sample = ", ".join(sorted(map(str, state.get("state_dict", state)))[:5])
    raise Action2VecError(f"features.weights: {path}: unrecognised C3D weights layout (first keys: "
                          f"{sample}); expected the Sports-1M PyTorch port (conv1.weight, ...) or "
                          "an mmaction2 C3D checkpoint (conv1a.conv.weight, ...)")


UNSAFE_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")
ESCAPES = re.compile(r"\x1b\[[0-9;]*m")  # terminal styles in torch's messages


def unreadable(path, exc):
    """Why ``torch.load(path, weights_only=True)`` failed, as one line naming the file. A file
    holding other Python objects than tensors is refused as such, without torch's advice to load
    it with ``weights_only=False`` or to allow its objects: both would run what it holds."""
    text = ESCAPES.sub("", str(exc))
    if "weights_only" in text or "WeightsUnpickler" in text:
        found = UNSAFE_GLOBAL.search(text)
        what = f"the Python object {found.group(1)}" if found else "Python objects"
        return (f"features.weights: {path} holds {what}, not only tensors: refused, as loading "
                "it could run code; save the weights alone (torch.save(model.state_dict(), "
                "path))")
    detail = text.strip().splitlines()[0] if text.strip() else ""
    return (f"features.weights: cannot read {path} as a PyTorch weights file (torch.save of a "
            f"state_dict): {type(exc).__name__}" + (f": {detail}" if detail else ""))


def load_c3d_weights(net, path):
    """Load a C3D weights file into ``net``; return (layout, sha256). Refuses misfitting files."""
    path = Path(path)
    if not path.is_file():
        raise Action2VecError(f"features.weights: no such file {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise Action2VecError(unreadable(path, exc)) from None
    layout = weights_layout(state, path)
    if layout == "mmaction2":
        state = convert_mmaction2(state)
    own = net.state_dict()
    missing = sorted(k for k in own if k not in state and not k.startswith("fc8"))
    wrong = sorted(k for k in own if k in state and tuple(state[k].shape) != tuple(own[k].shape)
                   and not k.startswith("fc8"))
    if missing or wrong:
        raise Action2VecError(f"features.weights: {path} does not fit C3D: missing {missing[:5]}, "
                              f"wrong shapes {[(k, tuple(state[k].shape)) for k in wrong[:5]]}")
    net.load_state_dict({k: v for k, v in state.items() if k in own and not k.startswith("fc8")},
                        strict=False)
    return layout, file_sha256(path)
