"""Shared test helpers: real encoded videos written with PyAV; stages run in this process as
users run them; and the one real pipeline run the suite shares (`pipeline`), with copies of it
(`project_copy`) for tests that change something.

Tests that use the pipeline run or start processes are marked ``slow``: ``pytest -m "not slow"``
is the quick loop while editing.
"""

import contextlib
import io
import json
import logging
import os
import runpy
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import av
import h5py
import numpy as np
import pytest
from filelock import FileLock

from project import commit, new_project, set_params, sh

ROOT = Path(__file__).resolve().parents[1]


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


# --- Stages in this process -------------------------------------------------------------------

@dataclass
class Done:
    """What a run printed and how it ended, as subprocess.run reports it."""

    returncode: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def captured_run(cwd, argv, log_format="%(levelname)s %(name)s: %(message)s"):
    """Run code in ``cwd`` with ``argv``, its stdout, stderr and INFO logging captured as a
    process's would be: yields the (stdout, stderr) buffers. Logger levels the code sets are
    put back afterwards."""
    out, err = io.StringIO(), io.StringIO()
    handler = logging.StreamHandler(err)
    handler.setFormatter(logging.Formatter(log_format))
    root = logging.getLogger()
    levels = {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
              if isinstance(logger, logging.Logger)}
    level, before, saved_argv = root.level, Path.cwd(), sys.argv
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    os.chdir(cwd)
    sys.argv = argv
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            yield out, err
    finally:
        sys.argv = saved_argv
        os.chdir(before)
        root.removeHandler(handler)
        root.setLevel(level)
        for name, logger in logging.root.manager.loggerDict.items():
            if isinstance(logger, logging.Logger):
                logger.setLevel(levels.get(name, logging.NOTSET))


def run_stage(cwd, name, *args):
    """``python stages/NAME.py ARGS`` in ``cwd`` as a user runs it, in this process: its exit
    status, stdout, and stderr with the stage's log. An error other than a user error
    (Action2VecError) is raised, as it would reach the user as a traceback."""
    script = ROOT / "stages" / f"{name}.py"
    with captured_run(cwd, [str(script), *map(str, args)]) as (out, err):
        try:
            runpy.run_path(str(script), run_name="__main__")
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
    return Done(code, out.getvalue(), err.getvalue())


def run_stage_ok(cwd, name, *args):
    """run_stage, which must succeed; its stderr."""
    done = run_stage(cwd, name, *args)
    assert done.returncode == 0, f"{name}: {done.stderr}"
    return done.stderr


def stage_project(root, **changes):
    """What a stage needs to run in ``root``: params.yaml (changed by ``changes``) and dvc.yaml
    (each stage reads the params it declares there); returns the empty data/videos folder."""
    shutil.copy(ROOT / "params.yaml", root)
    shutil.copy(ROOT / "dvc.yaml", root)
    set_params(root, **changes)
    videos = root / "data" / "videos"
    videos.mkdir(parents=True)
    return videos


# --- The shared pipeline run ------------------------------------------------------------------

# The suite's one pipeline: 24 classes x 1 rendered video of 32 frames, 3 C3D clips each (72
# through C3D); with chunks of 2, two LSTM 1 sub-sequences per video, so that attention and both
# LSTMs run over several steps. Two ratios of 2 splits, three variants, the negative control
# among them (13 trainings with the full model), of a tiny network; shards of 2 videos (12
# shards) for the repair test. label_semantics compares the sentence model's label space, as by
# default; test_pipeline's copy trains on it.
TINY = {
    "render": {"videos_per_class": 1, "frames": 32},
    "features": {"shard_videos": 2},
    "zsl": {"ratios": ["80_20", "50_50"], "n_splits": 2,
            "variants": ["action2vec", "stacked_lstm", "shuffled_labels"]},
    "pca": {"dims": 8},
    "sequence": {"steps": 6},
    "train": {"chunk": 2, "lstm1": 32, "lstm2": 16, "attention": 8, "epochs": 2,
              "batch_size": 8},
}


@dataclass
class Pipeline:
    """The shared project after `dvc repro`: its root and what the run printed."""

    root: Path
    stdout: str
    stderr: str


@pytest.fixture(scope="session")
def pipeline(tmp_path_factory):
    """The suite's one real pipeline run: the tiny project (TINY) through `dvc repro` in a new
    git repository, results committed. Tests only read it; a test that changes something uses
    ``project_copy``. Test processes of one run (pytest -n) share it: the first one to need it
    runs it. At the end of the session the project must be as the run left it."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # the run's folder, above each worker's own
    repo, printed = base / "pipeline" / "project", base / "pipeline" / "repro.json"
    with FileLock(str(base / "pipeline.lock")):
        if not printed.exists():
            new_project(repo, TINY)
            repro = sh(repo, "dvc", "repro")
            commit(repo, "results")
            printed.write_text(json.dumps({"stdout": repro.stdout, "stderr": repro.stderr}))
    yield Pipeline(repo, **json.loads(printed.read_text()))
    changed = sh(repo, "git", "status", "--porcelain").stdout
    assert changed == "", f"a test changed the shared pipeline project:\n{changed}"


def copy_of(pipeline, target):
    """A copy of the shared project at ``target`` (git history, DVC cache and finished
    trainings included): `dvc exp run` in it reuses everything upstream of what changed."""
    return Path(shutil.copytree(pipeline.root, target, symlinks=True))


@pytest.fixture
def project_copy(pipeline, tmp_path):
    """A copy of the shared project, for a test that changes something (see copy_of)."""
    return copy_of(pipeline, tmp_path / "project")


# Files that use the shared pipeline, in the order they run (`make test` hands whole files to
# its processes in collection order): the longest work on a copy first, which starts the run,
# then every file that does not need it (slow ones first), then these.
PIPELINE_FILES = ["test_own_datasets.py", "test_pipeline.py", "test_cli.py", "test_repair.py"]


def pytest_collection_modifyitems(items):
    """Tests that use the pipeline run are ``slow``, as are those marked so by hand (they start
    processes). Files run in the order that keeps every test process busy while the shared
    pipeline runs (PIPELINE_FILES)."""
    for item in items:
        if "pipeline" in item.fixturenames:
            item.add_marker(pytest.mark.slow)
    slow_files = {item.path.name for item in items if item.get_closest_marker("slow")}

    def rank(item):
        name = item.path.name
        if name in PIPELINE_FILES:
            index = PIPELINE_FILES.index(name)
            return (0 if index == 0 else 3, index)
        return (1 if name in slow_files else 2, 0)

    items.sort(key=rank)  # stable: tests keep their order within a file


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
