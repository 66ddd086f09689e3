import hashlib
import os
import subprocess
import sys
from fractions import Fraction

import av
import numpy as np

import pytest

from action2vec.video import (clip_starts, cut_short, end_packets, file_identity, first_line,
                              frame_indices, native_message, open_error, open_reader, probe,
                              read_frames, scan)

from conftest import cut_after, encode, faststart, moving_bar, overwritten, packets


def test_clip_starts_give_the_papers_52_steps_for_14_seconds():
    assert len(clip_starts(14 * 30, 16, 8)) == 52
    assert clip_starts(40, 16, 8).tolist() == [0, 8, 16, 24]
    assert clip_starts(5, 16, 8).tolist() == [0]  # shorter than a clip: one padded clip


def test_frame_indices_resample_and_clip():
    assert frame_indices(300, 30, 30, 14).tolist() == list(range(300))
    sixty = frame_indices(1200, 60, 30, 14)  # 20 s at 60 fps -> 14 s at 30 fps
    assert len(sixty) == 420 and sixty[:3].tolist() == [0, 2, 4]
    assert len(frame_indices(50, 25, 30, 14)) == 60  # 2 s at 25 fps -> 60 frames at 30 fps


def test_good_video_decodes_with_its_facts(video_file):
    info = probe(video_file("good.mp4", n_frames=45), fps=30, max_seconds=14)
    assert info["status"] == "ok", info
    assert (info["frames"], info["width"], info["height"]) == (45, 160, 120)
    assert abs(info["fps"] - 30) < 0.01 and abs(info["duration"] - 1.5) < 0.01
    assert info["used_frames"] == 45


def test_file_identity_is_the_size_and_hash_of_the_files_bytes(video_file, tmp_path):
    """What a video's features belong to: its file's bytes, read in blocks (here several). The
    probe leaves it out: only the decode stage records it (``action2vec embed`` does not)."""
    path = video_file("good.mp4", n_frames=45)
    identity = file_identity(path)
    assert identity == (path.stat().st_size, hashlib.sha256(path.read_bytes()).hexdigest())
    assert not {"bytes", "sha256"} & set(probe(path, fps=30, max_seconds=14))
    big = tmp_path / "big.bin"
    big.write_bytes(np.random.default_rng(0).bytes(3 * (1 << 20) + 5))
    assert file_identity(big) == (big.stat().st_size, hashlib.sha256(big.read_bytes()).hexdigest())
    encode(path, moving_bar(45)[::-1])  # re-encoded under the same name: another file
    assert file_identity(path)[1] != identity[1]


def test_long_video_is_clipped_to_max_seconds(video_file):
    path = video_file("long.mp4", n_frames=90)
    assert probe(path, fps=30, max_seconds=2)["used_frames"] == 60
    frames = read_frames(path, fps=30, max_seconds=2, size=(128, 171))
    assert frames.shape == (60, 128, 171, 3) and frames.dtype == np.uint8


def test_decoded_frames_match_what_was_encoded(video_file):
    frames = read_frames(video_file("bar.mp4", n_frames=20), fps=30, max_seconds=14)
    bright = frames[5].mean(axis=(0, 2)) > 128  # columns of the white bar at t=5: x in 15..35
    assert bright[20:30].all() and not bright[50:].any()


def test_truncated_files_are_rejected(video_file, tmp_path):
    for name in ("cut.mp4", "cut.avi"):
        data = video_file(name, n_frames=60).read_bytes()
        path = tmp_path / f"truncated-{name}"
        path.write_bytes(data[: int(len(data) * 0.8)])
        info = probe(path, fps=30, max_seconds=14)
        assert info["status"] == "rejected", (name, info)
        assert info["reason"]


def test_truncated_avi_is_caught_although_decord_returns_no_error(video_file, tmp_path):
    data = video_file("whole.avi", n_frames=60).read_bytes()
    path = tmp_path / "short.avi"
    path.write_bytes(data[: int(len(data) * 0.8)])
    info = probe(path, fps=30, max_seconds=14)
    assert "truncated" in info["reason"] and "declares 60" in info["reason"]


def audio_only(path):
    """A real MP4 with an AAC audio stream and no video."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("aac", rate=44100)
        for i in range(10):
            frame = av.AudioFrame.from_ndarray(np.zeros((1, 1024), np.float32), format="fltp",
                                               layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def bad_videos(tmp_path, video_file):
    """{file: the reason the probe must give} for real damaged files of every kind, two of a
    kind where the kind has no details, so that their reasons group."""
    mp4, avi = video_file("whole.mp4").read_bytes(), video_file("whole.avi").read_bytes()
    files = {"empty.mp4": b"", "random.mp4": np.random.default_rng(0).bytes(5000),
             "random.avi": np.random.default_rng(1).bytes(300), "text.mp4": b"not a video " * 50,
             "cut.mp4": mp4[:len(mp4) // 2], "stub.mp4": mp4[:300], "cut.avi": avi[:300],
             "short.avi": avi[:int(len(avi) * 0.8)], "end.avi": avi[:-1],
             "end.mp4": mp4[:-100], "half.mp4": cut_after(faststart(tmp_path / "fast.mp4"), 30),
             "index.avi": overwritten(avi, len(avi) // 2, len(avi) // 10)}
    # A keyframe every 10 frames: the probe decodes the last ones, and finds one damaged.
    keys = faststart(tmp_path / "keys.mp4", codec_options={"g": "10"})
    start, size = packets(keys)[-2]
    files["last.mp4"] = overwritten(keys.read_bytes(), start, size)
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    audio_only(tmp_path / "audio.mp4")
    os.mkfifo(tmp_path / "pipe.mp4")  # opened, a pipe would wait for a writer for ever
    cut, text = "truncated: the file is shorter than its container says", "not a video container"
    return {tmp_path / "missing.mp4": "no such file", tmp_path / "empty.mp4": "empty file",
            tmp_path / "pipe.mp4": "not a regular file but a named pipe (FIFO)",
            tmp_path / "random.mp4": text, tmp_path / "random.avi": text,
            tmp_path / "text.mp4": text, tmp_path / "cut.mp4": cut, tmp_path / "stub.mp4": cut,
            tmp_path / "cut.avi": cut, tmp_path / "audio.mp4": "no video stream",
            tmp_path / "short.avi": "truncated: header declares 60 frames, only 44 decode",
            tmp_path / "end.avi": cut,  # the last byte of its index: every frame still decodes
            tmp_path / "end.mp4": "truncated: header declares 60 frames, only 0 decode",
            tmp_path / "half.mp4": "truncated: header declares 60 frames, only 30 decode",
            tmp_path / "index.avi": "truncated: header declares 60 frames, only 49 decode",
            tmp_path / "last.mp4": "decoding failed mid-stream"}


@pytest.mark.parametrize("name", ["whole.mp4", "fast.mp4"])
def test_the_probe_does_not_decode_a_video_in_full(video_file, tmp_path, name):
    """Bytes overwritten in the middle of an H.264 stream: decoding the video in full fails
    there, yet the probe, which reads the header, the index and the end of the stream, passes
    it with its facts. (Extraction's decode reports it: tests/test_features.py.)"""
    whole = faststart(tmp_path / name, 90) if name == "fast.mp4" else video_file(name, 90)
    data = whole.read_bytes()
    path = tmp_path / f"damaged-{name}"
    path.write_bytes(overwritten(data, len(data) // 2, len(data) // 10))
    with pytest.raises(Exception):
        read_frames(path, fps=30, max_seconds=14)
    info = probe(path, fps=30, max_seconds=14)
    assert info == {"frames": 90, "fps": 30.0, "duration": 3.0, "width": 160, "height": 120,
                    "used_frames": 90, "status": "ok", "reason": ""}


@pytest.mark.parametrize("name, rate", [("h264.mp4", 30), ("ntsc.mp4", Fraction(30000, 1001)),
                                        ("pal.mkv", 25), ("mpeg4.avi", 30), ("mpeg4.mp4", 30),
                                        ("fragmented.mp4", 30)])
def test_the_probe_counts_the_frames_decord_decodes(tmp_path, name, rate):
    """The probe reads the file with PyAV alone (an MP4 without decoding frames to open it);
    extraction decodes it with decord and checks the count: the two must find the same frames
    and rate, or good videos would be refused. A fragmented MP4's header declares no frames."""
    codec = "mpeg4" if name.startswith("mpeg4") else "libx264"
    options = {"movflags": "frag_keyframe+empty_moov"} if name == "fragmented.mp4" else None
    path = encode(tmp_path / name, moving_bar(50), rate, codec, options=options)
    info, reader = probe(path, fps=30, max_seconds=14), open_reader(path)
    assert (info["frames"], info["fps"]) == (len(reader), reader.get_avg_fps())
    assert info["used_frames"] == len(read_frames(path, fps=30, max_seconds=14))


def test_the_scan_keeps_one_keyframe_interval_at_most(tmp_path):
    """The packets from the last keyframe, when few; the keyframe alone when that interval is
    long (one keyframe in 300 frames): memory stays bounded on a long video."""
    for keys, kept in (("10", 10), ("300", 1)):
        path = encode(tmp_path / f"g{keys}.mp4", moving_bar(300), codec_options={"g": keys})
        with av.open(str(path)) as container:
            count, tail = scan(container, container.streams.video[0])
        assert (count, len(tail), tail[0].is_keyframe) == (300, kept, True), keys


def test_the_end_check_decodes_a_small_share_of_the_video():
    """Of the packets from the last keyframe to the end: all when they are few, else the
    keyframe alone."""
    assert end_packets(list(range(10)), 300) == list(range(10))  # 3% of the frames
    assert end_packets(list(range(50)), 300) == [0]  # 16%
    assert end_packets(list(range(30)), 30) == [0] and end_packets([0], 1) == [0]


def test_rejection_reasons_say_what_is_wrong_without_the_path(tmp_path, video_file):
    for path, reason in bad_videos(tmp_path, video_file).items():
        info = probe(path, fps=30, max_seconds=14)
        assert (info["status"], info["reason"]) == ("rejected", reason), path.name


@pytest.mark.slow  # a process of its own
def test_the_probe_prints_no_native_decoder_lines(tmp_path, video_file):
    paths = [str(p) for p in bad_videos(tmp_path, video_file)]
    script = ("import sys; from action2vec.video import probe\n"
              "for p in sys.argv[1:]: print(probe(p, 30, 14)['reason'])")
    done = subprocess.run([sys.executable, "-c", script, *paths], capture_output=True, text=True)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == len(paths), done.stderr
    assert done.stderr == ""


def test_open_error_says_why_a_file_is_not_a_video(video_file, tmp_path):
    assert open_error(video_file()) is None
    assert open_error(tmp_path / "none.mp4") == "no such file"
    (tmp_path / "text.mp4").write_text("hello")
    assert open_error(tmp_path / "text.mp4") == "not a video container"


def test_text_files_and_images_are_not_videos(tmp_path):
    """FFmpeg opens a longer text file as ANSI art (640x400 frames) and an image as a one-frame
    stream: a README.txt or a cover.jpg beside a dataset's clips is rejected by name."""
    notes = tmp_path / "notes.txt"
    notes.write_text("notes on the clips of this class\n" * 50)
    with av.open(str(notes)) as container:  # FFmpeg itself does open it
        assert container.streams.video
    image = tmp_path / "cover.png"
    with av.open(str(image), "w", format="image2") as out:
        stream = out.add_stream("png", rate=1)
        stream.width, stream.height, stream.pix_fmt = 32, 32, "rgb24"
        frame = av.VideoFrame.from_ndarray(np.zeros((32, 32, 3), np.uint8), format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode()]:
            out.mux(packet)
    assert probe(notes, fps=30, max_seconds=14)["reason"] == "not a video: a text file"
    assert probe(image, fps=30, max_seconds=14)["reason"] == (
        "not a video: an image (piped png sequence)")


def test_cut_short_reads_mp4_boxes_and_the_avi_riff_size(video_file, tmp_path):
    for name in ("whole.mp4", "whole.avi"):
        data = video_file(name).read_bytes()
        assert not cut_short(tmp_path / name)
        (tmp_path / f"cut-{name}").write_bytes(data[:-1])
        assert cut_short(tmp_path / f"cut-{name}"), name
    (tmp_path / "text.mp4").write_text("hello")
    assert not cut_short(tmp_path / "text.mp4") and not cut_short(tmp_path / "none.mp4")


def test_native_message_drops_source_locations_and_the_path():
    error = RuntimeError("[01:09:36] /src/video/video_reader.cc:270: [/d/x.mp4] Failed to "
                         "measure duration.\n  at foo.cc:1")
    assert native_message(error, "/d/x.mp4") == "failed to measure duration"


def test_first_line_keeps_a_native_trace_to_one_line():
    assert first_line("RuntimeError: bad\n  at foo.cc:12\n  at bar.cc:3") == "RuntimeError: bad"
    assert first_line("") == "unknown error"
    assert first_line("x" * 500, 200) == "x" * 200
