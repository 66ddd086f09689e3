import h5py
import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.shards import ShardWriter, iter_videos, read_attrs, resume, shard_paths


def test_shards_round_trip_and_are_bounded(tmp_path):
    rng = np.random.default_rng(0)
    arrays = [rng.normal(size=(n, 6)).astype(np.float32) for n in (3, 1, 4, 2, 5)]
    with ShardWriter(tmp_path, {"extractor": "c3d", "params": {"stride": 8}}, 2) as writer:
        for i, a in enumerate(arrays):
            writer.add(f"class/v{i}", f"class {i % 2}", a)
    paths = shard_paths(tmp_path)
    assert [p.name for p in paths] == ["shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    videos = list(iter_videos(tmp_path))
    assert [v[0] for v in videos] == [f"class/v{i}" for i in range(5)]
    assert [v[1] for v in videos] == ["class 0", "class 1"] * 2 + ["class 0"]
    for (_, _, got), want in zip(videos, arrays):
        np.testing.assert_array_equal(got, want)
    assert read_attrs(paths[1]) == {"extractor": "c3d", "params": {"stride": 8}}


def test_each_shard_is_readable_on_its_own(tmp_path):
    with ShardWriter(tmp_path, {"layer": "fc7"}, 1) as writer:
        writer.add("a", "x", np.ones((2, 3), np.float32))
        writer.add("b", "y", np.zeros((1, 3), np.float32))
    with h5py.File(tmp_path / "shard-00001.h5") as f:
        assert f["video_id"].asstr()[0] == "b" and f.attrs["layer"] == "fc7"
        assert f["features"].shape == (1, 3)


def test_unfinished_shards_are_never_read(tmp_path):
    with ShardWriter(tmp_path, {}, 10) as writer:
        writer.add("a", "x", np.ones((2, 3), np.float32))
    (tmp_path / "shard-00001.h5.tmp").write_bytes(b"half written")
    assert [v[0] for v in iter_videos(tmp_path)] == ["a"]


def test_no_shards_is_a_clear_error(tmp_path):
    with pytest.raises(Action2VecError, match="no feature shards"):
        shard_paths(tmp_path)


def write_videos(directory, ids, key="k1", per_shard=2, first=0):
    with ShardWriter(directory, {"feature_key": key}, per_shard, first) as writer:
        for i, video in enumerate(ids):
            writer.add(video, f"class {i % 2}", np.full((i + 1, 3), i, np.float32))


def test_resume_keeps_finished_shards_and_drops_the_rest(tmp_path):
    write_videos(tmp_path, ["a", "b", "c", "d", "e"])  # shards 0: a b, 1: c d, 2: e
    (tmp_path / "shard-00003.h5.tmp").write_bytes(b"half written")
    (tmp_path / "shard-00002.h5").write_bytes(b"damaged")
    done, following = resume(tmp_path, "k1", {"a", "b", "c", "d", "e"})
    assert done == {"a", "b", "c", "d"} and following == 2
    assert [p.name for p in sorted(tmp_path.iterdir())] == ["shard-00000.h5", "shard-00001.h5"]


def test_resume_removes_unlisted_videos_and_other_settings(tmp_path):
    write_videos(tmp_path, ["a", "b", "c", "d"])
    write_videos(tmp_path, ["x"], key="other", first=2)
    done, following = resume(tmp_path, "k1", {"a", "c", "d", "new"})
    assert done == {"a", "c", "d"} and following == 2
    assert [v[0] for v in iter_videos(tmp_path)] == ["a", "c", "d"]
    np.testing.assert_array_equal(dict((v[0], v[2]) for v in iter_videos(tmp_path))["c"],
                                  np.full((3, 3), 2, np.float32))
    assert not (tmp_path / "shard-00002.h5").exists()
    assert resume(tmp_path, "k2", {"a"}) == (set(), 0)
    assert list(tmp_path.glob("shard-*")) == []
