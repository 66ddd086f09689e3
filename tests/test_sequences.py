import numpy as np

from action2vec.sequences import (is_sequences, iter_batches, pad_or_clip, read_index,
                                  read_sequences, write_sequences)
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
