import numpy as np

from action2vec.sequences import pad_or_clip, read_sequences, write_sequences


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
