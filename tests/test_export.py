"""word2vec files, embed outputs and file descriptions (the command's end-to-end use is in
test_cli.py)."""

import json

import h5py
import numpy as np
import pytest
from gensim.models import KeyedVectors

from action2vec import Action2VecError
from action2vec.export import (describe, keys_of, word2vec_key, write_video_vectors,
                               write_word2vec)
from action2vec.shards import write_shard


def test_word2vec_keys_have_no_whitespace_and_must_be_distinct():
    assert word2vec_key(" play  piano ") == "play_piano"
    assert word2vec_key("ApplyEyeMakeup") == "ApplyEyeMakeup"
    assert keys_of(["a b", "c"], "classes") == ["a_b", "c"]
    with pytest.raises(Action2VecError, match=r"classes \['a_b'\] collide"):
        keys_of(["a b", "a_b"], "classes")


@pytest.mark.parametrize("binary", [False, True])
def test_word2vec_files_round_trip_through_gensim(tmp_path, binary):
    keys = ["throw_ball", "spin_ring", "video/001"]
    matrix = np.random.default_rng(0).normal(size=(3, 7)).astype(np.float32)
    path = write_word2vec(tmp_path / "v.bin", keys, matrix, binary)
    loaded = KeyedVectors.load_word2vec_format(str(path), binary=binary)
    assert loaded.index_to_key == keys
    np.testing.assert_allclose(loaded.vectors, matrix, atol=1e-6)
    assert not list(tmp_path.glob("*.tmp"))
    described = dict(describe(path) if binary else describe(path.rename(tmp_path / "v.txt")))
    assert described["vectors"] == 3 and described["dim"] == 7
    assert described["first keys"] == "throw_ball, spin_ring, video/001"


def test_video_vectors_keep_one_row_per_given_video(tmp_path):
    model = tmp_path / "m.pt"
    model.write_bytes(b"model")
    vectors = [np.ones(4, np.float32), None, np.zeros(4, np.float32)]
    npy = write_video_vectors(tmp_path / "e.npy", ["a", "b", "c"], vectors, [2, 0, 3], model)
    matrix = np.load(npy)
    assert matrix.shape == (3, 4) and np.isnan(matrix[1]).all() and (matrix[0] == 1).all()
    h5 = write_video_vectors(tmp_path / "e.h5", ["a", "b", "c"], vectors, [2, 0, 3], model)
    with h5py.File(h5) as f:
        assert list(f["ok"][:]) == [True, False, True] and list(f["n_clips"][:]) == [2, 0, 3]
        assert list(f["path"].asstr()[:]) == ["a", "b", "c"]
    assert dict(describe(h5))["embedded"] == 1 + 1
    assert dict(describe(npy))["rows all NaN"] == 1
    with pytest.raises(Action2VecError, match="use a .npy or .h5"):
        write_video_vectors(tmp_path / "e.csv", ["a"], vectors[:1], [1], model)


def test_describe_a_shard(tmp_path):
    path = tmp_path / "shard-00000.h5"
    write_shard(path, ["v1", "v2"], ["x", "y"], [np.zeros((3, 5)), np.zeros((2, 5))],
                {"extractor": "c3d", "layer": "fc7", "stride": 8, "weights": ""})
    info = dict(describe(path))
    assert info["kind"] == "clip feature shard"
    assert (info["videos"], info["clips"], info["dim"], info["classes"]) == (2, 5, 5, 2)
    assert info["extractor"] == "c3d" and "weights" not in info  # empty attributes left out


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


def test_describe_export_metadata(tmp_path):
    meta = {"format": "word2vec", "dataset": {"name": "ucf101"}, "classes": {"a": "a"},
            "n_videos": 0, "words": {"count": 0}, "dim": 50,
            "model": {"path": "m.pt", "variant": "action2vec"}, "word_vectors": "glove-6b-50d",
            "metrics": {"zsl": {"80_20": {"action2vec": {"top1_mean": 0.51234}}}}}
    (tmp_path / "metadata.json").write_text(json.dumps(meta))
    info = dict(describe(tmp_path / "metadata.json"))
    assert info["dataset"] == "ucf101" and info["zero-shot top-1"] == '{"80_20": 0.512}'
