import hashlib
import logging
import os
import re
import resource
import signal

import h5py
import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.shards import (CHECKSUM, DamagedShard, ShardWriter, is_shard, iter_videos,
                               read_attrs, read_content, read_shard, resume, shard_bytes,
                               shard_paths, summary, video_index, write_shard)

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


def file_of(video, version=0):
    """A video's file as the decode stage records it: (size, SHA-256)."""
    data = f"{video} {version}".encode()
    return len(data), hashlib.sha256(data).hexdigest()


def files_of(ids):
    """{video id: its file} of videos as the extract stage wants them."""
    return {video: file_of(video) for video in ids}


def write_videos(directory, ids, key="k1", per_shard=2, first=0):
    with ShardWriter(directory, {"feature_key": key}, per_shard, first) as writer:
        for i, video in enumerate(ids):
            writer.add(video, f"class {i % 2}", np.full((i + 1, 3), i, np.float32), file_of(video))


def test_resume_keeps_finished_shards_and_drops_the_rest(tmp_path):
    write_videos(tmp_path, ["a", "b", "c", "d", "e"])  # shards 0: a b, 1: c d, 2: e
    (tmp_path / "shard-00003.h5.tmp").write_bytes(b"half written")
    (tmp_path / "shard-00002.h5").write_bytes(b"damaged")
    done, following = resume(tmp_path, "k1", files_of("abcde"), tmp_path / "damaged")
    assert done == {"a", "b", "c", "d"} and following == 2
    assert [p.name for p in sorted(tmp_path.glob("shard-*"))] == ["shard-00000.h5",
                                                                  "shard-00001.h5"]


def test_resume_removes_unlisted_videos_and_other_settings(tmp_path):
    write_videos(tmp_path, ["a", "b", "c", "d"])
    write_videos(tmp_path, ["x"], key="other", first=2)
    done, following = resume(tmp_path, "k1", files_of(["a", "c", "d", "new"]),
                             tmp_path / "damaged")
    assert done == {"a", "c", "d"} and following == 2
    assert [v[0] for v in iter_videos(tmp_path)] == ["a", "c", "d"]
    np.testing.assert_array_equal(dict((v[0], v[2]) for v in iter_videos(tmp_path))["c"],
                                  np.full((3, 3), 2, np.float32))
    assert not (tmp_path / "shard-00002.h5").exists()
    assert resume(tmp_path, "k2", files_of("a"), tmp_path / "damaged") == (set(), 0)
    assert list(tmp_path.glob("shard-*")) == []


def random_videos(directory, ids, per_shard, rows=100, dim=64):
    """Shards of incompressible features (the same array for an id whatever the layout)."""
    with ShardWriter(directory, {"feature_key": "k1"}, per_shard) as writer:
        for video in ids:
            rng = np.random.default_rng(ord(video))
            writer.add(video, f"class {video}", rng.normal(size=(rows, dim)).astype(np.float32),
                       file_of(video))


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
        done, following = resume(features, "k1", files_of("abcdef"), damaged)
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
        done, _ = resume(tmp_path, "k1", files_of("abcd"), tmp_path / "damaged")
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


def test_resume_extracts_again_the_videos_whose_file_changed(tmp_path, caplog):
    """A file replaced under the same path (or another dataset root with the same relative
    paths) has another size or SHA-256: its video's features are not reused; the other
    videos of its shard are kept, with their files."""
    write_videos(tmp_path, "abcd")  # shards 0: a b, 1: c d
    wanted = {**files_of("abcd"), "b": file_of("b", version=1), "d": file_of("d", version=1)}
    with caplog.at_level(logging.WARNING):
        done, following = resume(tmp_path, "k1", wanted, tmp_path / "damaged")
    assert done == {"a", "c"} and following == 2
    assert caplog.text.count("2 videos are extracted again: their file changed since they "
                             "were extracted (another size or content)") == 1
    kept = read_content(tmp_path / "shard-00000.h5")
    assert (kept.ids, kept.files) == (["a"], [file_of("a")])
    np.testing.assert_array_equal(kept.arrays[0], np.full((1, 3), 0, np.float32))
    assert read_content(tmp_path / "shard-00001.h5").ids == ["c"]
    caplog.clear()
    with caplog.at_level(logging.WARNING):  # the same files again: nothing more to redo
        assert resume(tmp_path, "k1", wanted, tmp_path / "damaged") == ({"a", "c"}, 2)
    assert "extracted again" not in caplog.text


def test_resume_extracts_again_the_videos_of_shards_without_their_files(tmp_path, caplog):
    """Shards of an older version record no files: their videos cannot be told unchanged."""
    with ShardWriter(tmp_path, {"feature_key": "k1"}, 2) as writer:
        for i, video in enumerate("abc"):
            writer.add(video, "x", np.full((1, 3), i, np.float32))
    assert read_content(tmp_path / "shard-00000.h5").files is None
    write_videos(tmp_path, "d", first=2)
    with caplog.at_level(logging.WARNING):
        done, following = resume(tmp_path, "k1", files_of("abcd"), tmp_path / "damaged")
    assert done == {"d"} and following == 3
    assert [p.name for p in sorted(tmp_path.glob("shard-*"))] == ["shard-00002.h5"]
    assert caplog.text.count("3 videos are extracted again: their shards were written by an "
                             "older version, which did not record each video's file") == 1
    assert caplog.text.count("extracted again") == 1


def test_the_recorded_files_are_covered_by_the_checksum(tmp_path):
    write_videos(tmp_path, "ab")
    path = tmp_path / "shard-00000.h5"
    with h5py.File(path, "r+") as f:
        f["video_sha256"][1] = file_of("b", version=1)[1]
    with pytest.raises(DamagedShard, match="content does not match its checksum"):
        read_shard(path)
    write_videos(tmp_path, "ab")
    with h5py.File(path, "r+") as f:  # the files dropped: not taken for an older shard
        del f["video_bytes"], f["video_sha256"]
    with pytest.raises(DamagedShard, match="content does not match its checksum"):
        read_shard(path)


@pytest.mark.parametrize("link", ["hardlink", "symlink"])
def test_a_damaged_shard_linked_to_the_cache_points_to_the_repair(tmp_path, link, caplog):
    """With DVC's cache.type hardlink or symlink a shard is its cache object: `dvc repro` alone
    links the damaged object back, so the message says what docs/operations.md says to do."""
    features, cache = tmp_path / "features", tmp_path / "cache"
    random_videos(features, "abcd", per_shard=2)
    cache.mkdir()
    bad = features / "shard-00001.h5"
    if link == "hardlink":
        os.link(bad, cache / "object")
    else:
        bad.rename(cache / "object")
        bad.symlink_to(cache / "object")
    damage_shard(cache / "object", "truncated")
    with pytest.raises(DamagedShard) as error:
        read_shard(bad)
    message = str(error.value)
    assert message.startswith(f"{bad}: damaged shard (") and "\n" not in message
    assert message.endswith(f"); it is linked to its DVC cache object, damaged too: delete that "
                            f"object (find -L \"$(dvc cache dir)\" -samefile {bad} -delete) "
                            f"and run `dvc repro`, see docs/operations.md#the-cache")
    with caplog.at_level(logging.WARNING):
        resume(features, "k1", files_of("abcd"), tmp_path / "damaged")
    moved = tmp_path / "damaged" / "shard-00001.h5"
    assert (f"moved to {moved}, its videos are extracted again; it is linked to its DVC cache "
            f"object, damaged too: delete that object (find -L \"$(dvc cache dir)\" "
            f"-samefile {moved} -delete)") in caplog.text


def test_a_full_disk_with_nearly_enough_room_reads_which_is_larger(small_disk):
    """About 0.2 MB needed and 0.2 MB free, a little less: the figures say so."""
    features = np.random.default_rng(0).normal(size=(800, 64))
    needed = len(shard_bytes(["a"], ["x"], [features], {}))
    fill(small_disk, free=needed - 8192)
    with pytest.raises(Action2VecError) as error:
        write_shard(small_disk / "shard-00000.h5", ["a"], ["x"], [features], {})
    found = re.search(r"not enough disk space: ([\d,]+) bytes needed, ([\d,]+) bytes free; free "
                      r"some space and run again$", str(error.value))
    assert found, str(error.value)
    need, free = (int(n.replace(",", "")) for n in found.groups())
    assert need == needed > free and round(need, -5) == round(free, -5) == 200_000
