"""The train stage's jobs: parallel, streamed trainings give the bytes of serial, in-memory
ones; a rerun reuses exactly the unchanged trainings (settings and the code a training runs);
a failed training loses no other.
Parallel trainings run in a stage process of their own (its workers are forked from it);
serial ones in this process."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from action2vec.paths import LOSS_PLOTS, SEQUENCE_SCRATCH, TRAIN, TRAIN_DONE, projection_file

from conftest import ROOT, run_stage, run_stage_ok
from project import set_params
from test_stages import protocol_project, stage_process

pytestmark = pytest.mark.slow  # parallel trainings in stage processes


def training_project(root, n_splits=1, **train):
    """protocol_project with two variants, ``n_splits`` splits and ``train`` settings, its
    pca and sequence stages run."""
    root.mkdir()
    protocol_project(root)
    set_params(root, zsl={"n_splits": n_splits, "variants": ["action2vec", "cos_only"]},
               train=train)
    for stage in ("splits", "pca", "sequence"):
        run_stage_ok(root, stage)
    return root


def outputs(root):
    """{relative path: bytes} of everything the train stage wrote."""
    files = [p for d in (root / TRAIN, root / LOSS_PLOTS) for p in d.rglob("*") if p.is_file()]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def train(root):
    """The train stage's log: in a process of its own where trainings run in parallel."""
    parallel = yaml.safe_load((root / "params.yaml").read_text())["train"]["workers"] != 1
    done = stage_process(root, "train") if parallel else run_stage(root, "train")
    assert done.returncode == 0, done.stderr
    return done.stderr


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Two projects of 2 variants x 2 splits (5 trainings with the full model), trained
    serially in memory and in 2 worker processes streamed from disk."""
    base = tmp_path_factory.mktemp("trained")
    # lambda from the first step, so that a change of lambda changes the full model
    serial = training_project(base / "serial", n_splits=2, workers=1, store="memory",
                              lambda_warmup=0)
    parallel = training_project(base / "parallel", n_splits=2, workers=2, store="disk",
                                lambda_warmup=0)
    logs = train(serial), train(parallel)
    return serial, parallel, logs


def copy(root, tmp_path):
    return Path(shutil.copytree(root, tmp_path / root.name, symlinks=True))


def test_parallel_streamed_trainings_give_the_bytes_of_serial_in_memory_ones(trained):
    serial, parallel, logs = trained
    assert "5 to run on 1 worker(s)" in logs[0] and "5 to run on 2 worker(s)" in logs[1]
    full = outputs(serial)
    assert len(full) == 5 * 3 + 3  # .pt, .npz and .json per training, a loss plot per run
    assert outputs(parallel) == full
    assert not (parallel / SEQUENCE_SCRATCH).exists()  # scratch files are removed


def test_float16_sequences_are_the_same_streamed_or_in_memory(trained, tmp_path):
    roots = [copy(root, tmp_path) for root in trained[:2]]
    for root in roots:
        set_params(root, sequence={"dtype": "float16"})
        run_stage_ok(root, "sequence")
        train(root)
    half = outputs(roots[0])
    assert outputs(roots[1]) == half
    full = outputs(trained[0])
    assert half.keys() == full.keys() and half != full  # float16 did change the inputs


def test_a_rerun_reuses_exactly_the_trainings_whose_settings_did_not_change(trained, tmp_path):
    root = copy(trained[1], tmp_path)
    before = outputs(root)
    set_params(root, train={"workers": 1}, **{"lambda": 0.5})  # reuse is the same serially
    log = train(root)
    assert "5 trainings: 2 reused from the last run, 3 to run" in log  # cos_only has no CE
    after = outputs(root)
    cos_only = [name for name in before if "cos_only" in name]
    assert len(cos_only) == 7 and all(after[name] == before[name] for name in cos_only)
    model = "data/train/action2vec/50_50/split-0.pt"
    assert after[model] != before[model]
    set_params(root, train={"lr": 0.01})
    assert "5 trainings: 0 reused" in train(root)
    assert len(list((root / TRAIN_DONE).iterdir())) == 5  # only the last run's are kept


def test_a_failed_training_keeps_the_finished_ones_for_the_rerun(trained, tmp_path):
    root = copy(trained[1], tmp_path)
    shutil.rmtree(root / TRAIN)
    shutil.rmtree(root / TRAIN_DONE)
    damaged = root / projection_file("50_50", 1)
    good = damaged.read_bytes()
    damaged.write_bytes(b"not a projection")
    done = stage_process(root, "train")  # a failed worker lets the others finish
    assert done.returncode == 1
    assert "split-1.npz: not a PCA projection" in done.stderr.splitlines()[-1]
    assert len(list((root / TRAIN_DONE).iterdir())) == 3  # all, and both variants of split 0
    damaged.write_bytes(good)
    assert "5 trainings: 3 reused from the last run, 2 to run" in train(root)
    assert outputs(root) == outputs(trained[1])


def package_copy(tmp_path):
    """A copy of the action2vec package to edit, in a folder of its own."""
    return Path(shutil.copytree(ROOT / "action2vec", tmp_path / "code" / "action2vec",
                                ignore=shutil.ignore_patterns("__pycache__")))


def train_with(root, package):
    """The train stage's log, run in a process of its own that imports ``package`` (a copy of
    action2vec/, first on its path) instead of the installed one."""
    env = {**os.environ, "PYTHONPATH": str(package.parent)}
    done = subprocess.run([sys.executable, str(ROOT / "stages" / "train.py")], cwd=root,
                          env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr


def edit(path):
    with path.open("a") as handle:
        handle.write("# an edit\n")


def test_an_edit_retrains_exactly_the_trainings_that_run_the_edited_code(trained, tmp_path):
    """Trained by the installed package, rerun by a copy of it elsewhere (the key names files
    relative to the package, so a copy's trainings are the same ones): after an edit to the
    command line (which no training runs) a new variant trains alone; after an edit to the
    network's module every training runs again."""
    root, package = copy(trained[0], tmp_path), package_copy(tmp_path)
    before = outputs(root)
    edit(package / "cli.py")
    set_params(root, zsl={"variants": ["action2vec", "cos_only", "dual_loss"]})
    assert "7 trainings: 5 reused from the last run, 2 to run" in train_with(root, package)
    after = outputs(root)
    assert all(after[name] == before[name] for name in before)
    assert len([name for name in after if "dual_loss" in name]) == 7
    edit(package / "model.py")
    assert "7 trainings: 0 reused from the last run, 7 to run" in train_with(root, package)
    assert outputs(root) == after  # a comment: the same results, trained again


def blas_threads():
    """The threads of every BLAS library loaded in this process (numpy's, scipy's)."""
    from threadpoolctl import threadpool_info

    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_a_serial_job_runs_one_blas_thread_and_gives_them_back(trained, tmp_path, monkeypatch):
    """The serial path (train.workers 1, in this process) projects its sequences and embeds
    its test videos on one BLAS thread, as its workers do; the threads are back afterwards."""
    import action2vec.jobs as jobs

    root = copy(trained[0], tmp_path)
    before = outputs(root)
    shutil.rmtree(root / TRAIN)
    shutil.rmtree(root / TRAIN_DONE)
    seen = []

    def spy(function):
        def call(*args, **kwargs):
            seen.append((function.__name__, blas_threads()))
            return function(*args, **kwargs)
        return call

    monkeypatch.setattr(jobs, "project_sequences", spy(jobs.project_sequences))
    monkeypatch.setattr(jobs, "embed", spy(jobs.embed))
    threads = blas_threads()
    train(root)
    assert sorted({name for name, _ in seen}) == ["embed", "project_sequences"]
    assert all(during == {1} for _, during in seen)
    assert blas_threads() == threads
    assert outputs(root) == before


def doubled_pca_shards(root):
    """The pca stage's shards of ``root`` with every feature doubled, and the sequence file
    made again from them: the shards now differ from the features projected again."""
    from action2vec.paths import PCA_SHARDS
    from action2vec.shards import read_content, shard_paths, write_shard

    for path in shard_paths(root / PCA_SHARDS):
        content = read_content(path)
        write_shard(path, content.ids, content.labels, [2 * a for a in content.arrays],
                    content.attrs, content.files)
    run_stage_ok(root, "sequence")


def test_the_full_model_reads_the_sequence_files_values_and_a_split_its_own_projection(
        trained, tmp_path, monkeypatch):
    """In memory and streamed from its ragged scratch file, the full model's sequences are the
    sequence file's (the pca stage's shards, padded), not the features projected again; a
    split's are its features projected by its own PCA, even when that is the full model's
    (``pca.fit_on: all``): their scratch files are two."""
    import numpy as np

    from action2vec.jobs import Job, sequences_of, with_keys
    from action2vec.paths import FEATURES, PCA_MODEL, SEQUENCES
    from action2vec.pca import Projection
    from action2vec.sequences import as_rows, project_sequences, read_index, read_sequences

    root = copy(trained[1], tmp_path)
    doubled_pca_shards(root)
    monkeypatch.chdir(root)
    shutil.copyfile(PCA_MODEL, projection_file("50_50", 1))  # as pca.fit_on: all does
    index = read_index(SEQUENCES)
    rows = np.arange(len(index.lengths))
    stored = read_sequences(SEQUENCES)["sequences"]
    projected = project_sequences(FEATURES, index, Projection.load(PCA_MODEL))["sequences"]
    assert projected.tobytes() != stored.tobytes()
    for store in ("memory", "disk"):
        full, split = with_keys([
            Job("action2vec", "all", 0, {}, {}, str(PCA_MODEL), store, "float32"),
            Job("action2vec", "50_50", 1, {}, {}, str(projection_file("50_50", 1)), store,
                "float32")], ["inputs"])
        for job, expected in ((full, stored), (split, projected)):
            read = as_rows(sequences_of(job, index), index.lengths).read(rows)
            assert read.tobytes() == expected.tobytes(), (store, job.ratio)
    assert len(list((root / SEQUENCE_SCRATCH).glob("*.h5"))) == 2  # ragged, one per projection


def test_the_test_videos_strings_are_as_wide_as_the_index_s_longest():
    """A split's saved ids and labels keep the width of the index's longest (the .npz bytes
    do not depend on which videos are tested); roles are those of splits.split_roles."""
    import numpy as np

    from action2vec.jobs import test_videos
    from action2vec.sequences import Index

    index = Index(["a/1", "b/22", "c/333", "a/4"], ["a", "bb", "ccc", "a"],
                  np.array([1, 2, 3, 1]), 4, 2)
    split = {"seen": ["ccc", "a"], "unseen": ["bb"], "validation": [], "held_out": ["a/4"]}
    rows, ids, labels, roles = test_videos(split, index)
    assert rows.tolist() == [1, 3]
    assert ids.tolist() == ["b/22", "a/4"] and ids.dtype == np.dtype("<U5")
    assert labels.tolist() == ["bb", "a"] and labels.dtype == np.dtype("<U3")
    assert roles.tolist() == ["unseen", "held_out"]


MAPPED = '''
import ctypes, sys
from action2vec.jobs import map_large_blocks

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in ("arena", "ordblks", "smblks", "hblks",
                "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks", "keepcost")]

libc = ctypes.CDLL(None)
libc.mallinfo2.restype = Info
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]
libc.free.argtypes = [ctypes.c_void_p]
if sys.argv[1] == "mapped":
    map_large_blocks()
libc.free(libc.malloc(16 << 20))  # a large block freed, as a batch's sequences are
before = libc.mallinfo2().hblks
block = libc.malloc(4 << 20)
print(libc.mallinfo2().hblks - before)
'''


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's allocator")
def test_large_blocks_stay_mapped_after_a_larger_one_was_freed():
    """With map_large_blocks, a 4 MB block still gets a mapping of its own (returned to the
    system when freed) after a 16 MB block was freed; left to itself, glibc then serves it
    from its heap."""
    counts = {mode: subprocess.run([sys.executable, "-c", MAPPED, mode], capture_output=True,
                                   text=True, check=True).stdout.strip()
              for mode in ("mapped", "default")}
    assert counts == {"mapped": "1", "default": "0"}
