"""Shared test helpers: real encoded videos written with PyAV, and project copies in temporary
git repositories for real DVC runs."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import av
import h5py
import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
from gpu import project_copy, project_env  # noqa: E402  (the benchmark's project copy)


def encode(path, frames, fps=30, codec="libx264", container_format=None, options=None,
           codec_options=None):
    """Write uint8 RGB frames (T, H, W, 3) as a real video file; ``options`` go to the muxer
    (``{"movflags": "faststart"}``: the MP4 index first), ``codec_options`` to the encoder
    (``{"g": "10"}``: a keyframe at least every 10 frames)."""
    with av.open(str(path), "w", format=container_format, options=options or {}) as out:
        stream = out.add_stream(codec, rate=fps, options=codec_options or {})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def moving_bar(n_frames, height=120, width=160):
    """A white bar sweeping over a black background: easy to check after decoding."""
    frames = np.zeros((n_frames, height, width, 3), np.uint8)
    for t in range(n_frames):
        x = (3 * t) % (width - 20)
        frames[t, :, x:x + 20] = 255
    return frames


def packets(path):
    """(byte offset, size) of each video packet of a file, in file order."""
    with av.open(str(path)) as container:
        return [(p.pos, p.size) for p in container.demux(container.streams.video[0]) if p.size]


def cut_after(path, n):
    """The bytes of ``path`` up to the end of its ``n``-th video packet: a download that
    stopped there."""
    return path.read_bytes()[:max(pos + size for pos, size in packets(path)[:n])]


def overwritten(data, start, length, zeros=True):
    """``data`` with ``length`` bytes from ``start`` overwritten by zeros or random bytes."""
    damaged = bytearray(data)
    damaged[start:start + length] = (bytes(length) if zeros else
                                     np.random.default_rng(0).bytes(length))
    return bytes(damaged)


def faststart(path, n_frames=60, codec_options=None):
    """A real H.264 MP4 with its index (``moov``) first, as streaming sites serve them: cut
    short, it keeps an index of frames it no longer holds."""
    return encode(path, moving_bar(n_frames), options={"movflags": "faststart"},
                  codec_options=codec_options)


@pytest.fixture
def video_file(tmp_path):
    """Factory: a real H.264 .mp4 (or MPEG-4 .avi) of ``n_frames`` frames."""
    def make(name="clip.mp4", n_frames=60, fps=30, height=120, width=160):
        path = tmp_path / name
        if path.suffix == ".avi":
            return encode(path, moving_bar(n_frames, height, width), fps, "mpeg4", "avi")
        return encode(path, moving_bar(n_frames, height, width), fps)
    return make


@pytest.fixture
def small_disk(tmp_path):
    """A real file system of 3 MB (a tmpfs) to fill up with ``fill``. Skipped where one cannot
    be mounted (mounting needs root)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if os.geteuid() != 0:
        pytest.skip("a small disk to fill is a tmpfs, and mounting one needs root")
    mount = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(disk)],
                           capture_output=True, text=True)
    if mount.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {mount.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "--lazy", str(disk)], check=True)


def fill(disk, free):
    """Fill a disk up to ``free`` bytes left free, with a file ``filler`` (delete it to undo)."""
    filler = disk / "filler"
    filler.unlink(missing_ok=True)
    filler.write_bytes(b"\0" * (shutil.disk_usage(disk).free - free))
    return filler


def damage_shard(path, how):
    """Damage an HDF5 shard as happens in the wild: cut it short (``truncate``), or zero 20 kB
    inside its features (``dd``)."""
    if how == "truncated":
        command = ["truncate", "-s", str(path.stat().st_size * 2 // 3), str(path)]
    else:
        with h5py.File(path) as f:
            inside = f["features"].id.get_chunk_info(0).byte_offset + 100
        command = ["dd", "if=/dev/zero", f"of={path}", "bs=1", f"seek={inside}", "count=20000",
                   "conv=notrunc"]
    subprocess.run(command, check=True, capture_output=True)


class RunsCode:
    """A value whose unpickling creates the file ``marker``: the payload of a malicious model or
    PCA file (a pickle can run any code the same way). A loader that is safe leaves no marker."""

    def __init__(self, marker):
        self.marker = Path(marker)

    def __reduce__(self):
        return Path.touch, (self.marker,)


KINETICS_HEADER = "label,youtube_id,time_start,time_end,split\n"


def kinetics_layout(root, video_file, flat=False):
    """Kinetics-400 as downloaded: annotation CSVs and <ytid>_<start>_<end>.mp4 clips, in
    per-class folders (spaces as underscores, as some download scripts write them) or flat.
    One annotated clip of each list is missing, as YouTube videos go."""
    (root / "annotations").mkdir(parents=True)
    rows = {"train": [("playing piano", "abc-DEF_123", 5, 15), ("abseiling", "x0", 0, 10),
                      ("playing piano", "gone", 1, 11)],
            "validate": [("abseiling", "y1", 12, 22), ("abseiling", "gone2", 3, 13)]}
    for split, clips in rows.items():
        lines = [f"{label},{ytid},{start},{end},{split}" for label, ytid, start, end in clips]
        text = KINETICS_HEADER + "\n".join(lines) + "\n"
        (root / "annotations" / f"{split}.csv").write_text(text)
        for label, ytid, start, end in clips:
            if ytid.startswith("gone"):
                continue
            folder = root / split if flat else root / split / label.replace(" ", "_")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{ytid}_{start:06d}_{end:06d}.mp4").write_bytes(
                video_file("k.mp4", n_frames=8).read_bytes())
    return root / "annotations"


def sh(repo, *args, check=True):
    """Run a command in a project, with the test's Python first on PATH and DVC kept local."""
    done = subprocess.run(args, cwd=repo, env=project_env(repo), capture_output=True, text=True)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(map(str, args))} failed:\n{done.stdout}\n{done.stderr}")
    return done


def git_project(repo, changes):
    """A copy of the project in a fresh git repository, params changed by ``changes``
    ({section: {key: value}}), committed and ready for ``dvc repro`` (bench/gpu.py's copy)."""
    return project_copy(repo, changes)


@pytest.fixture(scope="session")
def dvc_stages():
    """The stages of dvc.yaml as DVC itself reads them (matrix items expanded, anchors and ${...}
    resolved), grouped by their name in dvc.yaml: {"train": [train@..., ...], ...}."""
    from dvc.repo import Repo

    with Repo(str(ROOT), config={"core": {"no_scm": True}}) as repo:
        stages = list(repo.index.stages)
    grouped = {}
    for stage in stages:
        grouped.setdefault(stage.name.split("@")[0], []).append(stage)
    return grouped
