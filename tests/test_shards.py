import logging
import re
import resource
import signal

import h5py
import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.shards import (CHECKSUM, DamagedShard, ShardWriter, is_shard, iter_videos,
                               read_attrs, read_shard, resume, shard_paths, summary, video_index,
                               write_shard)

from conftest import damage_shard, fill


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
    done, following = resume(tmp_path, "k1", {"a", "b", "c", "d", "e"}, tmp_path / "damaged")
    assert done == {"a", "b", "c", "d"} and following == 2
    assert [p.name for p in sorted(tmp_path.glob("shard-*"))] == ["shard-00000.h5",
                                                                  "shard-00001.h5"]


def test_resume_removes_unlisted_videos_and_other_settings(tmp_path):
    write_videos(tmp_path, ["a", "b", "c", "d"])
    write_videos(tmp_path, ["x"], key="other", first=2)
    done, following = resume(tmp_path, "k1", {"a", "c", "d", "new"}, tmp_path / "damaged")
    assert done == {"a", "c", "d"} and following == 2
    assert [v[0] for v in iter_videos(tmp_path)] == ["a", "c", "d"]
    np.testing.assert_array_equal(dict((v[0], v[2]) for v in iter_videos(tmp_path))["c"],
                                  np.full((3, 3), 2, np.float32))
    assert not (tmp_path / "shard-00002.h5").exists()
    assert resume(tmp_path, "k2", {"a"}, tmp_path / "damaged") == (set(), 0)
    assert list(tmp_path.glob("shard-*")) == []


def random_videos(directory, ids, per_shard, rows=100, dim=64):
    """Shards of incompressible features (the same array for an id whatever the layout)."""
    with ShardWriter(directory, {"feature_key": "k1"}, per_shard) as writer:
        for video in ids:
            rng = np.random.default_rng(ord(video))
            writer.add(video, f"class {video}", rng.normal(size=(rows, dim)).astype(np.float32))


@pytest.mark.parametrize("how", ["truncated", "zeroed"])
def test_a_damaged_shard_is_an_error_naming_it_when_read(tmp_path, how):
    random_videos(tmp_path, "abcd", per_shard=2)
    bad = tmp_path / "shard-00001.h5"
    damage_shard(bad, how)
    read_shard(tmp_path / "shard-00000.h5")  # the other one is fine
    for read in (read_shard, lambda path: list(iter_videos(path.parent))):
        with pytest.raises(DamagedShard) as error:
            read(bad)
        assert str(error.value).startswith(f"{bad}: damaged shard (")
        assert str(error.value).endswith("run `dvc repro` to redo it")


def test_content_that_does_not_match_the_checksum_is_refused(tmp_path):
    random_videos(tmp_path, "ab", per_shard=2)
    with h5py.File(tmp_path / "shard-00000.h5", "r+") as f:  # a label changed behind its back
        f["label"][1] = "class z"
    with pytest.raises(DamagedShard, match="content does not match its checksum"):
        read_shard(tmp_path / "shard-00000.h5")


def test_resume_sets_damaged_shards_aside_and_redoes_their_videos(tmp_path, caplog):
    features, damaged = tmp_path / "data" / "features", tmp_path / ".resume" / "damaged"
    random_videos(features, "abcdef", per_shard=2)
    damage_shard(features / "shard-00001.h5", "truncated")
    damage_shard(features / "shard-00002.h5", "zeroed")
    (damaged).mkdir(parents=True)
    (damaged / "shard-00001.h5").write_bytes(b"set aside by an earlier run")
    with caplog.at_level(logging.WARNING):
        done, following = resume(features, "k1", set("abcdef"), damaged)
    assert done == {"a", "b"} and following == 1
    assert [p.name for p in features.iterdir()] == ["shard-00000.h5"]
    assert sorted(p.name for p in damaged.iterdir()) == ["shard-00001.h5", "shard-00001.h5.1",
                                                         "shard-00002.h5"]
    assert (damaged / "shard-00001.h5").read_bytes() == b"set aside by an earlier run"
    assert (f"{features / 'shard-00002.h5'} is damaged (" in caplog.text
            and f"moved to {damaged / 'shard-00002.h5'}, its videos are extracted" in caplog.text)


def test_resume_redoes_a_shard_without_a_checksum(tmp_path, caplog):
    random_videos(tmp_path, "abcd", per_shard=2)
    with h5py.File(tmp_path / "shard-00001.h5", "r+") as f:  # as written by an older version
        del f.attrs[CHECKSUM]
    with pytest.raises(DamagedShard, match="no content_sha256: written by an older version"):
        read_shard(tmp_path / "shard-00001.h5")
    with caplog.at_level(logging.WARNING):
        done, _ = resume(tmp_path, "k1", set("abcd"), tmp_path / "damaged")
    assert done == {"a", "b"} and not (tmp_path / "shard-00001.h5").exists()
    assert "shard-00001.h5 has no checksum (written by an older version): deleted" in caplog.text
    assert not (tmp_path / "damaged").exists()


def test_videos_are_indexed_and_read_in_id_order_whatever_the_shards(tmp_path):
    random_videos(tmp_path / "one", "abcde", per_shard=5)
    random_videos(tmp_path / "two", "dbcae", per_shard=2)  # d b | c a | e
    index = video_index(tmp_path / "two")
    assert list(index) == list("abcde")
    assert [(index["a"].path.name, index["a"].start, index["a"].stop)] == [("shard-00001.h5",
                                                                            100, 200)]
    one, two = list(iter_videos(tmp_path / "one")), list(iter_videos(tmp_path / "two"))
    assert [v[:2] for v in two] == [(v, f"class {v}") for v in "abcde"] == [v[:2] for v in one]
    for (_, _, a), (_, _, b) in zip(one, two):
        assert a.tobytes() == b.tobytes()


def test_a_video_in_two_shards_is_an_error_naming_both(tmp_path):
    random_videos(tmp_path, "ab", per_shard=2)
    with ShardWriter(tmp_path, {}, 1, first=1) as writer:
        writer.add("b", "class b", np.zeros((1, 64), np.float32))
    with pytest.raises(Action2VecError, match="shard-00001.h5: video 'b' is also in .*"
                                              "shard-00000.h5"):
        video_index(tmp_path)


def test_a_full_disk_is_one_clear_error_and_keeps_the_finished_shards(small_disk):
    disk = small_disk
    fill(disk, free=40_000)
    with pytest.raises(Action2VecError) as error:
        with ShardWriter(disk / "features", {}, 1) as writer:
            for video in "abc":
                writer.add(video, "x", np.random.default_rng(0).normal(size=(60, 64)))
    assert str(error.value).startswith(f"{disk / 'features' / 'shard-00001.h5'}: ")
    assert re.search(r": not enough disk space: 2\d\.\d kB needed, \d\.\d kB free; free some "
                     r"space and run again$", str(error.value))
    assert [p.name for p in (disk / "features").iterdir()] == ["shard-00000.h5"]  # no .tmp
    assert read_shard(disk / "features" / "shard-00000.h5")[0] == ["a"]


def test_a_failed_shard_write_is_one_clear_error_and_leaves_no_partial_file(tmp_path):
    """A write the file system refuses (here: past the process's file size limit)."""
    limit, handler = resource.getrlimit(resource.RLIMIT_FSIZE), signal.getsignal(signal.SIGXFSZ)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # else the process is killed
    resource.setrlimit(resource.RLIMIT_FSIZE, (10_000, limit[1]))
    try:
        with pytest.raises(Action2VecError, match=r"shard-00000.h5: cannot write \(File too "
                                                  r"large\): 2\d\.\d kB needed, .* free"):
            write_shard(tmp_path / "shard-00000.h5", ["a"], ["x"],
                        [np.random.default_rng(0).normal(size=(60, 64))], {})
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, limit)
        signal.signal(signal.SIGXFSZ, handler)
    assert list(tmp_path.iterdir()) == []


def test_a_shard_is_told_by_its_layout_and_summarised_without_its_features(tmp_path):
    path = tmp_path / "any-name.h5"
    write_shard(path, ["v1", "v2"], ["x", "x"], [np.ones((3, 4)), np.ones((2, 4))], {})
    assert is_shard(path)
    assert summary(path) == (2, 5, 4, ["x", "x"])
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["features"] = np.ones((2, 4))
        f["video_id"] = ["v1", "v2"]
    assert not is_shard(tmp_path / "other.h5")
