"""word2vec files and embed outputs (the command's end-to-end use is in test_cli.py)."""

import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from gensim.models import KeyedVectors

from action2vec import Action2VecError
from action2vec.cli import main
from action2vec.export import (check_video_vectors_path, keys_of, word2vec_key,
                               write_video_vectors, write_word2vec)
from action2vec.info import describe


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


def test_embed_out_in_a_missing_or_unusable_folder_is_refused_at_once(tmp_path, capsys,
                                                                       video_file):
    (tmp_path / "file").write_text("x")
    (tmp_path / "dir.h5").mkdir()
    cases = {tmp_path / "nowhere" / "x.h5": f"the folder {tmp_path / 'nowhere'} does not exist",
             tmp_path / "file" / "x.npy": f"the folder {tmp_path / 'file'} is not a folder",
             tmp_path / "dir.h5": "is a folder; name a file in it"}
    for out, message in cases.items():
        with pytest.raises(Action2VecError, match=f"--out {out}: {message}"):
            check_video_vectors_path(out)
        # before anything is loaded: the project here has no model, and no other error comes
        assert main(["embed", "--project", str(tmp_path), "--out", str(out),
                     str(video_file())]) == 1
        assert capsys.readouterr().err.strip() == f"error: --out {out}: {message}"
    assert check_video_vectors_path("x.h5") == Path("x.h5")  # the current folder
    plot = tmp_path / "nowhere" / "p.png"
    assert main(["embed", "--project", str(tmp_path), "--plot", str(plot),
                 str(video_file())]) == 1
    assert capsys.readouterr().err.strip() == (f"error: --plot {plot}: the folder "
                                                f"{tmp_path / 'nowhere'} does not exist")


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into any folder")
def test_embed_out_in_a_read_only_folder_is_refused(tmp_path):
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(Action2VecError, match="is not writable"):
        check_video_vectors_path(tmp_path / "ro" / "x.h5")
