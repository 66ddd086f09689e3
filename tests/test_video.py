import numpy as np

from action2vec.video import (clip_starts, first_line, frame_indices, open_error, probe,
                              read_frames)


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


def test_empty_text_and_missing_files_are_rejected_with_a_reason(tmp_path):
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "notes.mp4").write_text("not a video " * 50)
    for name in ("empty.mp4", "notes.mp4", "missing.mp4"):
        info = probe(tmp_path / name, fps=30, max_seconds=14)
        assert info["status"] == "rejected" and info["reason"], name


def test_open_error_says_why_a_file_is_not_a_video(video_file, tmp_path):
    assert open_error(video_file()) is None
    assert open_error(tmp_path / "none.mp4") == "no such file"
    (tmp_path / "text.mp4").write_text("hello")
    assert open_error(tmp_path / "text.mp4").startswith("not a readable video (")
    assert "\n" not in open_error(tmp_path / "text.mp4")


def test_first_line_keeps_a_native_trace_to_one_line():
    assert first_line("RuntimeError: bad\n  at foo.cc:12\n  at bar.cc:3") == "RuntimeError: bad"
    assert first_line("") == "unknown error"
    assert first_line("x" * 500, 200) == "x" * 200
