"""Tests of the extractor interface (extractors.py); the C3D network and its weights files are
tested in test_c3d.py, I3D in test_i3d.py."""

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec.backbones import LAYERS
from action2vec.extractors import BACKBONES, make_extractor
from action2vec.i3d import InceptionI3d


def test_feature_shapes_for_fc6_and_fc7():
    clips = np.random.default_rng(0).integers(0, 255, (2, 16, 112, 112, 3), dtype=np.uint8)
    for layer in ("fc6", "fc7"):
        extractor = make_extractor("c3d", layer, seed=0)
        feats = extractor.features(clips)
        assert feats.shape == (2, extractor.dim) == (2, 4096)
        assert feats.dtype == np.float32 and (feats >= 0).all() and feats.std() > 0


@pytest.fixture(scope="module")
def c3d():
    return make_extractor("c3d", "fc7", seed=0)


def test_prepare_crops_the_centre(c3d):
    frames = np.zeros((3, 128, 171, 3), np.uint8)
    frames[:, 8:120, 29:141] = 200  # exactly the central 112x112
    crop = c3d.prepare(frames)
    assert crop.shape == (3, 112, 112, 3) and (crop == 200).all()


def test_random_init_is_seeded_and_recorded():
    a, b = make_extractor(seed=3), make_extractor(seed=3)
    assert torch.equal(a.net.conv1.weight, b.net.conv1.weight)
    assert not torch.equal(a.net.conv1.weight, make_extractor(seed=4).net.conv1.weight)
    assert a.weights_info["random_init"] is True and a.weights_info["random_init_seed"] == 3


def network_layer_sizes(name, c3d):
    """{layer: feature size} read from a backbone's network itself."""
    if name == "c3d":
        return {"fc6": c3d.net.fc6.out_features, "fc7": c3d.net.fc7.out_features}
    if name == "i3d":
        with torch.inference_mode():  # Mixed_5c is averaged over time and space: any size does
            return {"mixed_5c": InceptionI3d().trunk(torch.zeros(1, 3, 8, 32, 32)).shape[1]}
    raise AssertionError(f"no check of the layer sizes of backbone {name!r}")


def test_each_extractor_offers_the_layers_and_sizes_of_the_registry(c3d):
    assert list(BACKBONES) == list(LAYERS)
    for name, extractor in BACKBONES.items():
        assert extractor.name == name
        assert extractor.layers == LAYERS[name] == network_layer_sizes(name, c3d)


def test_unknown_backbone_and_layer():
    with pytest.raises(Action2VecError, match="unknown backbone"):
        make_extractor("c4d")
    with pytest.raises(Action2VecError, match="no layer 'fc8'"):
        make_extractor("c3d", "fc8")
