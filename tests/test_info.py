"""What ``action2vec info`` says of each kind of file (info.py), and the one-line errors for
files that are damaged, malformed or would run code."""

import json
import os
import pickle

import numpy as np
import pytest
import torch

from action2vec import Action2VecError
from action2vec.cli import main
from action2vec.info import describe
from action2vec.model import HRNN, HRNNConfig, save_model
from action2vec.pca import Projection
from action2vec.shards import write_shard

from conftest import RunsCode, damage_shard


def test_describe_a_shard(tmp_path):
    path = tmp_path / "shard-00000.h5"
    write_shard(path, ["v1", "v2"], ["x", "y"], [np.zeros((3, 4)), np.zeros((2, 4))],
                {"extractor": "c3d", "layer": "fc7", "stride": 8, "weights": ""})
    info = dict(describe(path))
    assert info["kind"] == "clip feature shard"
    assert (info["videos"], info["clips"], info["dim"], info["classes"]) == (2, 5, 4, 2)
    assert info["extractor"] == "c3d" and "weights" not in info  # empty attributes left out
    assert info["checksum"] == "ok"


def test_describe_says_a_shard_is_damaged(tmp_path):
    path = tmp_path / "shard-00000.h5"
    features = np.random.default_rng(0).random((100, 1000), dtype=np.float32)
    write_shard(path, ["v1"], ["x"], [features], {})
    damage_shard(path, "dd")
    assert dict(describe(path))["checksum"].startswith("DAMAGED: ")
    damage_shard(path, "truncated")
    with pytest.raises(Action2VecError, match=f"{path}: not a readable HDF5 file"):
        describe(path)


@pytest.mark.parametrize("name, content, message", [
    ("x.h5", b"not hdf5", "not a readable HDF5 file"),
    ("x.txt", b"hello\n", "not a word2vec text file"),
    ("x.bin", b"2 3\nab", "not a word2vec binary file"),
    ("x.json", b"{}", "not the metadata.json of an `action2vec export`"),
    ("x.pt", b"junk", "not a model checkpoint"),
    ("x.npy", b"junk", "not a readable numpy file"),
    ("x.mp4", b"", "cannot tell what this is"),
])
def test_describe_names_the_file_and_what_is_wrong(tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(Action2VecError, match=message) as error:
        describe(path)
    assert str(path) in str(error.value)


def test_describe_a_missing_file(tmp_path):
    with pytest.raises(Action2VecError, match="no such file"):
        describe(tmp_path / "nothing.h5")


def test_describe_says_what_a_pipe_or_a_device_is(tmp_path):
    """A named pipe or /dev/zero is "not a regular file", not "no such file"; never opened."""
    os.mkfifo(tmp_path / "pipe.h5")
    with pytest.raises(Action2VecError, match=f"^{tmp_path / 'pipe.h5'}: not a regular file but "
                                              r"a named pipe \(FIFO\)$"):
        describe(tmp_path / "pipe.h5")
    with pytest.raises(Action2VecError, match="^/dev/zero: not a regular file but a character "
                                              "device$"):
        describe("/dev/zero")


@pytest.mark.parametrize("content, problem", [
    (b'{"format": "word2vec"}', "not the metadata.json of an `action2vec export` (no metrics)"),
    (b'{"format": "word2vec", "metrics": {}, "dataset": []}',
     "not the metadata.json of an `action2vec export` (no dataset.name)"),
    (b"[" * 100_000, "not valid JSON (its JSON is nested too deeply)"),
    (b'{"format": "w\xe9"}', "not valid JSON (not UTF-8 text (byte 0xe9 at offset 13, line 1))"),
], ids=["no metrics", "dataset", "nested", "latin-1"])
def test_describe_malformed_metadata_in_one_line(tmp_path, content, problem):
    path = tmp_path / "metadata.json"
    path.write_bytes(content)
    with pytest.raises(Action2VecError) as caught:
        describe(path)
    assert str(caught.value) == f"{path}: {problem}"


def test_describe_export_metadata(tmp_path):
    meta = {"format": "word2vec", "dataset": {"name": "ucf101"}, "classes": {"a": "a"},
            "n_videos": 0, "words": {"count": 0}, "dim": 50,
            "model": {"path": "m.pt", "variant": "action2vec"}, "word_vectors": "glove-6b-50d",
            "metrics": {"zsl": {"80_20": {"action2vec": {"top1_mean": 0.51234}}}}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    info = dict(describe(tmp_path / "metadata.json"))
    assert info["dataset"] == "ucf101" and info["zero-shot top-1"] == '{"80_20": 0.512}'


def test_describe_a_checkpoint_and_the_pca_projection(tmp_path):
    model = HRNN(HRNNConfig(input_dim=4, embed_dim=3, n_classes=2, lstm1=4, lstm2=4,
                            attention=0))
    save_model(tmp_path / "m.pt", model, {"variant": "cos_only", "steps": 6,
                                          "split": {"seen": ["a", "b"], "unseen": ["c"]}})
    info = dict(describe(tmp_path / "m.pt"))
    assert info["variant"] == "cos_only" and info["input"] == "6 steps x 4"
    assert (info["trained on"], info["held out"]) == ("2 classes", "1 classes")
    Projection(np.eye(2, 5), np.zeros(5), 0.5, np.ones(2), np.array([0.3, 0.2]), 40).save(
        tmp_path / "model.npz")
    info = dict(describe(tmp_path / "model.npz"))
    assert info["kind"] == "PCA projection (pca stage)"
    assert (info["dims"], info["input dim"], info["fit samples"]) == (2, 5, 40)
    assert info["variance kept"] == "50.0%"


def write_object_npz(path, marker):
    with open(path, "wb") as f:
        np.savez(f, x=np.array([RunsCode(marker)], dtype=object))


@pytest.mark.parametrize("name, write, message", [
    ("evil.pt", lambda path, marker: torch.save({"config": RunsCode(marker)}, path),
     "refused: not a plain-data checkpoint"),
    ("evil.pt", lambda path, marker: path.write_bytes(pickle.dumps(RunsCode(marker))),
     "refused: not a plain-data checkpoint"),
    ("model.npz", lambda path, marker: path.write_bytes(pickle.dumps(RunsCode(marker))),
     "not a readable numpy file (refused: "),
    ("evil.npz", write_object_npz, "not a readable numpy file (refused: "),
])
def test_info_refuses_a_file_that_would_run_code_unrun(tmp_path, capsys, name, write, message):
    path, marker = tmp_path / name, tmp_path / "MARKER"
    write(path, marker)
    assert main(["info", str(path)]) == 1
    assert capsys.readouterr().err.startswith(f"error: {path}: {message}")
    assert not marker.exists()
