import h5py
import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.sequences import (OnDisk, is_sequences, iter_batches, iter_blocks, pad_or_clip,
                                  project_sequences, ragged_bytes, read_index, read_lengths,
                                  read_sequences, write_projected, write_ragged, write_sequences)
from action2vec.shards import ShardWriter, iter_videos


def test_short_video_is_padded_with_zeros():
    features = np.arange(12, dtype=np.float32).reshape(3, 4) + 1
    out, length = pad_or_clip(features, 5)
    assert out.shape == (5, 4) and length == 3
    np.testing.assert_array_equal(out[:3], features)
    assert (out[3:] == 0).all()


def test_long_video_is_clipped():
    features = np.ones((60, 2), np.float32)
    out, length = pad_or_clip(features, 52)
    assert out.shape == (52, 2) and length == 52


def test_sequence_file_round_trip(tmp_path):
    videos = [("a/1", "roll ball", np.ones((2, 3))), ("b/2", "drop box", np.full((9, 3), 2.0))]
    assert write_sequences(tmp_path / "s.h5", iter(videos), steps=4, dim=3) == 2
    data = read_sequences(tmp_path / "s.h5")
    assert data["sequences"].shape == (2, 4, 3)
    assert data["lengths"].tolist() == [2, 4]
    assert data["video_id"] == ["a/1", "b/2"] and data["label"] == ["roll ball", "drop box"]
    assert (data["sequences"][0, 2:] == 0).all() and (data["sequences"][1] == 2).all()


def test_sequence_file_does_not_depend_on_how_the_shards_split_the_videos(tmp_path):
    ids = [f"c{i % 3}/v{i:02d}" for i in range(10)]
    layouts = (("one", range(10), 10), ("two", [4, 0, 9, 2, 7, 1, 3, 8, 5, 6], 3))
    for name, order, per_shard in layouts:
        with ShardWriter(tmp_path / name, {"pca_dims": 4}, per_shard) as writer:
            for i in order:
                features = np.random.default_rng(i).normal(size=(2 + i, 4)).astype(np.float32)
                writer.add(ids[i], f"class {i % 3}", features)
        write_sequences(tmp_path / f"{name}.h5", iter_videos(tmp_path / name), steps=6, dim=4)
    assert (tmp_path / "one.h5").read_bytes() == (tmp_path / "two.h5").read_bytes()
    assert read_sequences(tmp_path / "two.h5")["video_id"] == sorted(ids)


def test_index_and_batches_read_the_file_without_loading_it_whole(tmp_path):
    videos = [(f"v{i}", f"class {i % 2}", np.full((i + 1, 3), float(i))) for i in range(5)]
    write_sequences(tmp_path / "s.h5", iter(videos), steps=4, dim=3)
    index = read_index(tmp_path / "s.h5")
    assert index.video_id == [f"v{i}" for i in range(5)]
    assert index.label == ["class 0", "class 1"] * 2 + ["class 0"]
    assert index.lengths.tolist() == [1, 2, 3, 4, 4] and (index.steps, index.dim) == (4, 3)
    batches = list(iter_batches(tmp_path / "s.h5", 2))
    assert [len(x) for x, _ in batches] == [2, 2, 1]
    whole = read_sequences(tmp_path / "s.h5")
    np.testing.assert_array_equal(np.concatenate([x for x, _ in batches]), whole["sequences"])
    assert np.concatenate([n for _, n in batches]).tolist() == [1, 2, 3, 4, 4]
    assert is_sequences(tmp_path / "s.h5")


def test_projecting_at_load_time_gives_the_pca_and_sequence_stages_file(tmp_path):
    """What train and baseline build per split equals, bit for bit, what the pca stage's
    shards and the sequence stage's file hold for the same projection."""
    from action2vec.pca import fit_pca, transform_shards
    from action2vec.sequences import project_sequences

    rng = np.random.default_rng(0)
    with ShardWriter(tmp_path / "features", {"layer": "fc7"}, 3) as writer:
        for i in range(7):
            writer.add(f"c{i % 2}/v{i}", f"class {i % 2}",
                       rng.normal(size=(2 + 2 * i, 12)).astype(np.float32))
    projection = fit_pca(tmp_path / "features", dims=4, max_samples=1000, seed=0)
    transform_shards(tmp_path / "features", tmp_path / "pca", projection, max_videos=2)
    write_sequences(tmp_path / "s.h5", iter_videos(tmp_path / "pca"), steps=6, dim=4)
    stored = read_sequences(tmp_path / "s.h5")
    loaded = project_sequences(tmp_path / "features", read_index(tmp_path / "s.h5"), projection)
    assert loaded["video_id"] == stored["video_id"] and loaded["label"] == stored["label"]
    np.testing.assert_array_equal(loaded["lengths"], stored["lengths"])
    assert loaded["sequences"].tobytes() == stored["sequences"].tobytes()


def test_projecting_features_that_do_not_match_the_sequence_file_is_an_error(tmp_path):
    import pytest

    from action2vec import Action2VecError
    from action2vec.pca import fit_pca
    from action2vec.sequences import project_sequences

    for name, clips in (("before", 3), ("after", 2)):
        with ShardWriter(tmp_path / name, {"layer": "fc7"}, 4) as writer:
            for i in range(4):
                writer.add(f"v{i}", "x", np.full((clips + i, 5), i, np.float32))
    write_sequences(tmp_path / "s.h5", iter_videos(tmp_path / "before"), steps=4, dim=5)
    projection = fit_pca(tmp_path / "after", dims=2, max_samples=100, seed=0)
    with pytest.raises(Action2VecError, match=r"after does not match the sequence file "
                                              r"from video 'v0' on \(4 videos\)"):
        project_sequences(tmp_path / "after", read_index(tmp_path / "s.h5"), projection)


def padded(features, steps, dtype):
    """One video as the sequence file holds it, computed here: its first ``steps`` clips
    stored as ``dtype``, then zeros, read back as float32."""
    out = np.zeros((steps, features.shape[1]), np.float32)
    clips = features[:steps].astype(np.float32).astype(dtype)
    out[:len(clips)] = clips
    return out


@pytest.mark.parametrize("dtype", ["float32", "float16"])
def test_a_ragged_file_reads_back_as_the_padded_sequences(tmp_path, dtype):
    """A ragged file holds each video's clips alone (no padding on disk); any rows read from
    it, in any order and repeated, are the padded videos computed independently, and the
    same bytes as the sequence file of the same videos gives."""
    rng = np.random.default_rng(0)
    counts = [3, 1, 9, 6, 4, 12, 2]  # 9 and 12 are clipped to 6 steps
    videos = [rng.normal(size=(n, 5)) for n in counts]
    lengths = [min(n, 6) for n in counts]
    write_ragged(tmp_path / "r.h5", iter(videos), lengths, steps=6, dim=5, dtype=dtype)
    with h5py.File(tmp_path / "r.h5", "r") as f:
        assert f["clips"].shape == (sum(lengths), 5) and f["clips"].dtype == np.dtype(dtype)
    size = sum(lengths) * 5 * np.dtype(dtype).itemsize + 8 * len(counts)
    assert ragged_bytes(lengths, 5, dtype) == size
    source = OnDisk(tmp_path / "r.h5")
    assert source.lengths.tolist() == lengths
    rows = [5, 0, 3, 3, 6, 1, 2, 4]
    expected = np.stack([padded(videos[r], 6, dtype) for r in rows])
    assert source.read(rows).tobytes() == expected.tobytes()
    assert source.read([]).shape == (0, 6, 5)
    write_sequences(tmp_path / "s.h5", ((f"v{i}", "c", v) for i, v in enumerate(videos)), 6, 5,
                    dtype)
    stored = read_sequences(tmp_path / "s.h5")["sequences"][rows].astype(np.float32)
    assert source.read(rows).tobytes() == stored.tobytes()


def test_a_ragged_file_with_fewer_videos_than_lengths_is_an_error(tmp_path):
    videos = [np.ones((2, 3)), np.ones((4, 3))]
    with pytest.raises(Action2VecError, match=r"r\.h5: 2 videos for 3 lengths"):
        write_ragged(tmp_path / "r.h5", iter(videos), [2, 4, 1], steps=4, dim=3)


def test_shards_read_in_blocks_are_the_shards_read_whole(tmp_path):
    """iter_blocks gives iter_videos's videos, in id order, whatever the block and however the
    shards split the videos (blocks cross shards)."""
    rng = np.random.default_rng(1)
    ids = [f"c{i % 3}/v{i:02d}" for i in range(11)]
    with ShardWriter(tmp_path / "shards", {"pca_dims": 4}, 4) as writer:
        for i in [7, 2, 9, 0, 4, 10, 1, 8, 3, 6, 5]:
            features = rng.normal(size=(1 + i % 5, 4)).astype(np.float32)
            writer.add(ids[i], f"class {i % 3}", features)
    whole = list(iter_videos(tmp_path / "shards"))
    for block in (1, 3, 64):
        blocks = list(iter_blocks(tmp_path / "shards", block))
        assert [(v, label) for v, label, _ in blocks] == [(v, label) for v, label, _ in whole]
        assert all(a.tobytes() == b.tobytes() for (_, _, a), (_, _, b) in zip(blocks, whole))


def test_a_ragged_file_of_the_pca_shards_reads_back_as_the_sequence_file(tmp_path):
    """Without a projection, write_projected writes the shards' features as they are: read
    back, they are the sequence file of those shards (what the full model trains on)."""
    rng = np.random.default_rng(2)
    with ShardWriter(tmp_path / "pca", {"pca_dims": 4}, 3) as writer:
        for i in range(8):
            features = rng.normal(size=(1 + 2 * i, 4)).astype(np.float32)
            writer.add(f"v{i}", f"class {i % 2}", features)
    write_sequences(tmp_path / "s.h5", iter_videos(tmp_path / "pca"), steps=7, dim=4,
                    dtype="float16")
    index = read_index(tmp_path / "s.h5")
    write_projected(tmp_path / "r.h5", tmp_path / "pca", index, None, "float16")
    stored = read_sequences(tmp_path / "s.h5")["sequences"].astype(np.float32)
    assert OnDisk(tmp_path / "r.h5").read(np.arange(8)).tobytes() == stored.tobytes()
    in_memory = project_sequences(tmp_path / "pca", index, None, "float16")["sequences"]
    assert in_memory.tobytes() == read_sequences(tmp_path / "s.h5")["sequences"].tobytes()


def test_the_index_holds_one_string_per_label(tmp_path):
    videos = [(f"v{i}", ["roll ball", "drop box"][i % 2], np.ones((2, 3))) for i in range(6)]
    write_sequences(tmp_path / "s.h5", iter(videos), steps=4, dim=3)
    index = read_index(tmp_path / "s.h5")
    assert index.label == [label for _, label, _ in videos]
    assert len({id(label) for label in index.label}) == 2
    assert read_lengths(tmp_path / "s.h5")[0].tolist() == [2] * 6
    assert read_lengths(tmp_path / "s.h5")[1:] == (4, 3)
