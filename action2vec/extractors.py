"""Clip feature extractors: one interface, one class per backbone.

An extractor turns clips of decoded frames into one feature vector per clip. The pipeline only
talks to the interface (``frame_size``, ``clip_len``, ``dim``, ``prepare``, ``features``), so a
new backbone is one more subclass registered in ``BACKBONES``.
"""

import hashlib
import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from action2vec import Action2VecError

log = logging.getLogger(__name__)


class Extractor:
    """Interface of a clip feature extractor."""

    name = ""
    clip_len = 0  # frames per clip
    frame_size = (0, 0)  # (height, width) frames are decoded at
    layers: dict = {}  # layer name -> feature dimension

    def __init__(self, layer, device="cpu"):
        if layer not in self.layers:
            raise Action2VecError(f"features.layer: {self.name} has no layer {layer!r}; "
                                  f"choose one of {sorted(self.layers)}")
        self.layer = layer
        self.device = torch.device(device)
        self.weights_info = {}

    @property
    def dim(self):
        return self.layers[self.layer]

    def prepare(self, frames):
        """Decoded uint8 frames (T, H, W, 3) RGB -> the compact per-video array clips are cut from."""
        raise NotImplementedError

    def features(self, clips):
        """A batch of clips cut from prepared arrays (N, clip_len, ...) -> float32 (N, dim)."""
        raise NotImplementedError


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

# Per-channel pixel mean each weight file was trained with, in RGB order.
# The port was converted from the Caffe Sports-1M model (mean of sports1m_train16_128_mean);
# mmaction2 documents mean [104, 117, 128].
SPORTS1M_MEAN = {"port": (101.4, 97.7, 90.3), "mmaction2": (104.0, 117.0, 128.0)}


def file_sha256(path):
    """Checksum of a weights file, recorded with every feature shard."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_mmaction2(state):
    """mmaction2 checkpoint -> the port's state_dict layout (backbone only)."""
    state = state.get("state_dict", state)
    out = {}
    for key, value in state.items():
        if not key.startswith("backbone."):
            continue
        parts = key[len("backbone."):].split(".")
        parts = [MMACTION2_RENAMES.get(p, p) for p in parts if p != "conv"]
        out[".".join(parts)] = value
    return out


def weights_layout(state):
    """Which published layout a loaded weights file has: 'port' or 'mmaction2'."""
    keys = set(state.get("state_dict", state))
    if any(k.startswith("backbone.conv1a") for k in keys):
        return "mmaction2"
    if "conv1.weight" in keys:
        return "port"
    sample = ", ".join(sorted(keys)[:5])
    raise Action2VecError(f"unrecognised C3D weights layout (first keys: {sample}); expected the "
                          "Sports-1M PyTorch port (conv1.weight, ...) or an mmaction2 C3D checkpoint")


def load_c3d_weights(net, path):
    """Load a C3D weights file into ``net``; return (layout, sha256). Refuses misfitting files."""
    path = Path(path)
    if not path.is_file():
        raise Action2VecError(f"features.weights: no such file {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise Action2VecError(f"features.weights: cannot read {path} as a PyTorch file: {exc}")
    layout = weights_layout(state)
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


class C3DExtractor(Extractor):
    """C3D fc6/fc7 features of 16-frame clips, resized to 128x171 and centre-cropped to 112."""

    name = "c3d"
    clip_len = 16
    frame_size = (128, 171)
    crop = 112
    layers = {"fc6": 4096, "fc7": 4096}

    def __init__(self, layer="fc7", weights=None, seed=0, device="cpu"):
        super().__init__(layer, device)
        torch.manual_seed(seed)
        self.net = C3D()
        if weights:
            layout, sha = load_c3d_weights(self.net, weights)
            self.weights_info = {"weights": str(weights), "weights_sha256": sha,
                                 "weights_layout": layout, "random_init": False}
        else:
            layout = "port"
            self.weights_info = {"weights": "", "weights_sha256": "", "weights_layout": "none",
                                 "random_init": True, "random_init_seed": seed}
            log.warning("!" * 72)
            log.warning("C3D: NO WEIGHTS FILE (features.weights is empty). Using a RANDOM "
                        "initialisation (seed %d).", seed)
            log.warning("Features will not be Sports-1M features; see README 'C3D weights'.")
            log.warning("!" * 72)
        self.mean = np.asarray(SPORTS1M_MEAN[layout], dtype=np.float32)
        self.net.eval().to(self.device)

    def prepare(self, frames):
        """Centre-crop to 112x112, kept as uint8 (T, 112, 112, 3) to bound memory."""
        height, width = frames.shape[1:3]
        top, left = (height - self.crop) // 2, (width - self.crop) // 2
        return np.ascontiguousarray(frames[:, top:top + self.crop, left:left + self.crop])

    @torch.inference_mode()
    def features(self, clips):
        """clips: uint8 (N, 16, 112, 112, 3) -> (N, dim), after Sports-1M mean subtraction."""
        x = torch.from_numpy(np.ascontiguousarray(clips)).to(self.device).float()
        x = (x - torch.from_numpy(self.mean).to(self.device)).permute(0, 4, 1, 2, 3)
        return self.net(x, self.layer).float().cpu().numpy()


BACKBONES = {"c3d": C3DExtractor}


def make_extractor(backbone="c3d", layer="fc7", weights=None, seed=0, device="cpu"):
    """The extractor named by params ``features.backbone``."""
    if backbone not in BACKBONES:
        raise Action2VecError(f"features.backbone: unknown backbone {backbone!r}; "
                              f"choose one of {sorted(BACKBONES)}")
    return BACKBONES[backbone](layer=layer, weights=weights, seed=seed, device=device)
