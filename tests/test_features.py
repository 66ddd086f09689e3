import numpy as np
import pytest

from action2vec.extractors import Extractor
from action2vec.features import extract
from action2vec.video import BadVideo, file_identity, probe

from conftest import encode, moving_bar, overwritten


class MeanColour(Extractor):
    """A cheap real extractor for testing the batching: the mean RGB of each clip."""

    name, clip_len, frame_size, layers = "mean", 4, (24, 32), {"rgb": 3}

    def __init__(self):
        super().__init__("rgb")
        self.batches = []

    def prepare(self, frames):
        return frames

    def features(self, clips):
        self.batches.append(len(clips))
        return clips.mean(axis=(1, 2, 3)).astype(np.float32)


def test_every_clip_of_every_video_once_batched_across_videos(video_file):
    videos = [{"path": str(video_file(f"v{n}.mp4", n_frames=n)), "n": n} for n in (10, 4, 17)]
    extractor = MeanColour()
    done = {}
    clips = extract(videos, extractor, fps=30, max_seconds=14, stride=2, batch_size=3,
                    on_video=lambda v, f: done.__setitem__(v["n"], f), on_error=None,
                    progress=False)
    # clips of 4 every 2 frames: 10 -> 4 clips, 4 -> 1, 17 -> 8 (the last padded)
    assert {n: len(f) for n, f in done.items()} == {10: 4, 4: 1, 17: 8}
    assert clips == 13 and extractor.batches == [3, 3, 3, 3, 1]
    assert all(f.shape[1] == 3 for f in done.values())


def test_a_broken_video_is_reported_and_the_rest_go_on(video_file, tmp_path):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    videos = [{"path": str(video_file("a.mp4", n_frames=8))}, {"path": str(bad)},
              {"path": str(video_file("b.mp4", n_frames=8))}]
    done, failed = [], []
    extract(videos, MeanColour(), 30, 14, 4, 2, on_video=lambda v, f: done.append(v["path"]),
            on_error=lambda v, msg: failed.append((v["path"], msg)), progress=False)
    assert sorted(done) == sorted([videos[0]["path"], videos[2]["path"]])
    assert failed == [(str(bad), "not a video container")]  # worded as the decode stage's


def damaged_inside(video_file, tmp_path):
    """Real files whose damage only a full decode finds: bytes overwritten (zeros, random) in
    the middle of an H.264 stream in MP4; the probe passes them."""
    data = video_file("whole.mp4", n_frames=60).read_bytes()
    paths = [tmp_path / "zeros.mp4", tmp_path / "random.mp4"]
    for path, zeros in zip(paths, (True, False)):
        path.write_bytes(overwritten(data, len(data) // 2, len(data) // 10, zeros))
    return paths


def test_damage_inside_the_stream_is_reported_with_its_reason(video_file, tmp_path):
    bad = damaged_inside(video_file, tmp_path)
    good = [video_file("a.mp4", n_frames=8), video_file("b.avi", n_frames=12)]
    videos = [{"path": str(p), **probe(p, 30, 14)} for p in (good[0], *bad, good[1])]
    assert [v["status"] for v in videos] == ["ok"] * 4  # the decode stage let them through
    done, failed = {}, []
    extract(videos, MeanColour(), 30, 14, 4, 2,
            on_video=lambda v, f: done.__setitem__(v["path"], f),
            on_error=lambda v, msg: failed.append((v["path"], msg)), progress=False)
    assert failed == [(str(p), "decoding failed mid-stream") for p in bad]
    assert {p: len(f) for p, f in done.items()} == {str(good[0]): 2, str(good[1]): 3}


def test_a_video_shorter_than_the_decode_stage_counted_is_reported(video_file, tmp_path):
    """A file cut between the stages, with a structure that is whole again (re-encoded, say):
    its frames would make fewer clips, silently; it is reported instead."""
    path = video_file("v.mp4", n_frames=40)
    counted = probe(path, 30, 14)
    encode(path, moving_bar(24))
    done, failed = [], []
    extract([{"path": str(path), **counted}, {"path": str(video_file("w.mp4", 8))}],
            MeanColour(), 30, 14, 4, 2, on_video=lambda v, f: done.append(v["path"]),
            on_error=lambda v, msg: failed.append(msg), progress=False)
    assert failed == ["truncated: 24 frames decode, the decode stage counted 40"]
    assert done == [str(tmp_path / "w.mp4")]


def checked(path):
    """A video as the decode stage records it: probe's facts, its file's bytes and sha256."""
    size, sha256 = file_identity(path)
    return {"path": str(path), **probe(path, 30, 14), "bytes": size, "sha256": sha256}


def test_a_file_changed_since_the_decode_stage_checked_it_is_reported(video_file, tmp_path):
    """Files changed between the stages that still decode to the frames counted (here: bytes
    after the stream that the decoder ignores): their features would be recorded as the checked
    files'; they are reported instead, by size or by content."""
    same_size, longer = video_file("s.mp4", n_frames=16), video_file("l.mp4", n_frames=16)
    data = same_size.read_bytes()
    for path in (same_size, longer):
        path.write_bytes(data + bytes(10))
    videos = [checked(p) for p in (same_size, longer)]
    same_size.write_bytes(data + b"\1" * 10)
    longer.write_bytes(data + bytes(20))
    videos.append(checked(video_file("w.mp4", 8)))
    done, failed = [], []
    extract(videos, MeanColour(), 30, 14, 4, 2, on_video=lambda v, f: done.append(v["path"]),
            on_error=lambda v, msg: failed.append((v["path"], msg)), progress=False)
    size = len(data) + 10
    assert failed == [
        (str(same_size), "changed: other bytes than the decode stage checked (another SHA-256)"),
        (str(longer), f"changed: {size + 10} bytes, the decode stage checked {size}")]
    assert done == [str(tmp_path / "w.mp4")]


@pytest.mark.parametrize("batch_size", [1, 5])
def test_features_do_not_depend_on_batching(video_file, batch_size):
    videos = [{"path": str(video_file(f"v{n}.mp4", n_frames=n)), "n": n} for n in (9, 12)]
    done = {}
    extract(videos, MeanColour(), 30, 14, 2, batch_size,
            on_video=lambda v, f: done.__setitem__(v["n"], f), on_error=None, progress=False)
    single = {}
    extract(videos, MeanColour(), 30, 14, 2, 64,
            on_video=lambda v, f: single.__setitem__(v["n"], f), on_error=None, progress=False)
    # clips of 4 every 2 frames: 9 frames -> 4 clips (the last padded), 12 -> 5
    assert {n: f.shape for n, f in done.items()} == {9: (4, 3), 12: (5, 3)}
    assert set(single) == set(done)
    for n in done:
        np.testing.assert_allclose(done[n], single[n])


@pytest.mark.parametrize("workers", [1, 3])
def test_decoding_ahead_keeps_the_list_order_and_passes_a_broken_video(video_file, tmp_path,
                                                                       workers):
    from action2vec.features import decoded

    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00" * 100)
    # a long video first: later, shorter ones finish decoding before it, yet come out after it
    paths = [video_file("long.mp4", n_frames=300), bad] + \
        [video_file(f"s{i}.mp4", n_frames=8) for i in range(4)]
    out = list(decoded([{"path": str(p)} for p in paths], MeanColour(), 30, 14, workers))
    assert [v["path"] for v, _, _ in out] == [str(p) for p in paths]
    assert [len(f) if f is not None else None for _, f, _ in out] == [300, None, 8, 8, 8, 8]
    assert isinstance(out[1][2], BadVideo) and str(out[1][2]) == "not a video container"
