"""The train stage's trainings as independent jobs: one per variant, ratio and class split (and
the full model on every class), run in parallel processes, each on one thread, so that every
job gives the same bytes however many run at once.

A job streams its split's sequences from a scratch file of every video projected by the split's
own PCA, ragged (each video's clips alone, padded as they are read: a fraction of the padded
sequences' size), so that memory stays flat whatever the number of videos; or it holds them in
memory (``train.store: memory``). Both give the same bytes. A finished job is kept under its
key (everything that decides its result: settings, split, data and the code a training runs,
see code_digest) in ``.resume/train/done/``, so that the next run of the stage reuses it when
only other jobs' settings or other code changed (a variant added, lambda changed for variants
without cross-entropy, the command line edited).
"""

import ctypes
import fcntl
import hashlib
import json
import logging
import multiprocessing
import os
import shutil
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits  # installed with scikit-learn

from action2vec import distributed
from action2vec.files import file_sha256
from action2vec.imports import import_closure, resources_read
from action2vec.labels import read_classes
from action2vec.model import save_model
from action2vec.paths import (CLASSES, FEATURES, PCA_MODEL, PCA_SHARDS, SEQUENCE_SCRATCH,
                              SEQUENCES, TRAIN_DONE, TRAIN_RESUME, run_dir, split_file)
from action2vec.pca import Projection
from action2vec.progress import bar as progress_bar
from action2vec.sequences import (OnDisk, as_rows, project_sequences, read_index,
                                  write_projected)
from action2vec.training import TrainConfig, embed, fit_split
from action2vec.splits import split_roles

log = logging.getLogger(__name__)
SUFFIXES = (".pt", ".npz", ".json")  # what a job writes for its split
CODE = Path(__file__).resolve().parent  # the package whose code the jobs run
# The modules a job runs, with everything they import: this one prepares its input sequences
# and writes its outputs, training.py trains, model.py is the network.
TRAINING_CODE = ("jobs.py", "training.py", "model.py")


@dataclass
class Job:
    """One training: ``variant`` on split ``k`` of ``ratio``; ``config`` is TrainConfig's
    settings as a dict, ``key`` a digest of everything that decides the job's result."""

    variant: str
    ratio: str
    k: int
    split: dict
    config: dict
    projection: str
    store: str  # memory or disk
    dtype: str  # float32 or float16: the sequences' precision, in memory or on disk
    key: str = ""
    scratch: Path = None  # the scratch sequence file of its projection, shared by its jobs

    @property
    def name(self):
        return f"{self.variant} {self.ratio} split {self.k}"

    @property
    def out(self):
        return run_dir(self.variant, self.ratio)


def training_code(package=CODE):
    """The files whose code decides a job's result: the modules of TRAINING_CODE, each module
    of the package they import (at any depth) and the packaged resources those read.

    jobs.py belongs with training.py and model.py: its ``sequences_of`` chooses and projects a
    job's input sequences (through pca.py and sequences.py) and ``run_job`` reads the class
    vectors, embeds the test videos and gives them their roles (splits.py) in the outputs that
    are reused, so an edit to any of them changes a training's inputs or outputs without
    changing its settings. Modules no job imports (the command line, the evaluations) are
    left out: editing them reuses every training. The stage script (stages/train.py) only
    decides each job's settings, split and data, which are in its key as values."""
    package, root = Path(package), Path(package).parent
    modules = set()
    for name in TRAINING_CODE:
        modules |= {package / name} | import_closure(package / name, root)
    return modules | resources_read(modules, root)


def code_digest(package=CODE):
    """A digest of the contents of training_code's files, each under its path from the folder
    that holds the package ("action2vec/model.py": the same wherever the package is installed):
    a job trained by other code is not reused, and one whose code is unchanged is."""
    root = Path(package).parent
    digest = hashlib.sha256()
    for name in sorted(path.relative_to(root).as_posix() for path in training_code(package)):
        digest.update(name.encode() + file_sha256(root / name).encode())
    return digest.hexdigest()


def digest(*parts):
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def with_keys(jobs, inputs):
    """``jobs`` with their keys: the settings, split, data (``inputs``: checksums of the
    sequence index and classes, and of each job's projection) and code. Not the number of
    workers nor where the sequences are held, which do not change the result."""
    projections = {job.projection: file_sha256(job.projection) for job in jobs}
    code = code_digest()
    for job in jobs:
        data = [inputs, projections[job.projection], job.dtype]
        job.key = digest(job.config, job.variant, job.ratio, job.k, job.split, data, code)[:24]
        # the code that writes the scratch file is part of its name: an interrupted run's file
        # is used again only by the code that wrote it; so is where its values come from (with
        # pca.fit_on: all a split's projection is the full model's, projected again)
        name = digest(data, code, from_pca_shards(job))[:16]
        job.scratch = SEQUENCE_SCRATCH / f"{name}-{job.dtype}.h5"
    return jobs


@contextmanager
def locked(path):
    """An exclusive lock on ``path`` + ".lock" while the block runs (between processes)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.with_name(path.name + ".lock"), "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sequences_of(job, index):
    """The job's padded sequences: a Rows source streamed from its projection's ragged scratch
    file, or an array in memory."""
    directory, projection = projected(job)
    if job.store == "memory":
        return project_sequences(directory, index, projection, job.dtype)["sequences"]
    with locked(job.scratch):  # the first job of a projection writes it, the others wait
        if not job.scratch.exists():
            write_projected(job.scratch, directory, index, projection, job.dtype)
    return OnDisk(job.scratch)


def projected(job):
    """(shards, projection) that give the job's videos (sequences.iter_projected): a split's
    features projected by its own PCA; for the full model, the pca stage's shards as they are,
    the values the sequence file pads (projecting again can differ in the last bits). The full
    model too reads a scratch file rather than the sequence file: that file's chunk per video
    made memory grow with the number of videos read."""
    if from_pca_shards(job):
        return PCA_SHARDS, None
    return FEATURES, Projection.load(job.projection)


def from_pca_shards(job):
    """Whether the job's videos are the pca stage's shards as they are (the full model's)."""
    return Path(job.projection) == PCA_MODEL


M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter (malloc.h)


def map_large_blocks(threshold=1 << 20):
    """Have the C library's allocator (glibc's) give every block of ``threshold`` bytes or more
    a mapping of its own, returned to the system when freed. Left to itself, glibc raises that
    threshold to the largest block freed so far (a batch of padded sequences: tens of MB) and
    serves the blocks below it from its heap, which fragments: a training's peak memory then
    grew with its number of batches, hence of videos. Nothing happens with another C library."""
    try:
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, threshold)
    except (OSError, AttributeError):
        pass


def run_job(job, resume_dir=TRAIN_RESUME, on_epoch=None):
    """Train one job and write its split's .pt, .npz and .json into its run directory, with
    one BLAS thread (numpy's and scipy's) for all of it: projecting its sequences, its
    validation, embedding its test videos. The same in a worker process and in the parent,
    so that a job gives the same bytes however many run at once and parallel workers do not
    run more threads than cores (the training also runs one torch thread on a CPU:
    training.one_cpu_thread). Large blocks of memory are mapped (map_large_blocks), so that
    the job's memory does not grow with its number of videos."""
    map_large_blocks()
    with threadpool_limits(1, user_api="blas"):
        return train_and_write(job, resume_dir, on_epoch)


def train_and_write(job, resume_dir, on_epoch):
    """run_job's work."""
    index = read_index(SEQUENCES)
    data = {"sequences": sequences_of(job, index), "lengths": index.lengths,
            "video_id": index.video_id, "label": index.label}
    config = TrainConfig(**job.config)
    vectors = read_classes(CLASSES).vectors
    resume = Path(resume_dir) / f"{job.key}.pt"
    model, history = fit_split(data, vectors, job.split, config, resume, progress=False,
                               on_epoch=on_epoch)
    if distributed.rank_and_size()[0] != 0:  # under torchrun, rank 0 writes the outputs
        return job.name
    job.out.mkdir(parents=True, exist_ok=True)
    save_model(split_file(job.out, job.k, ".pt"), model,
               {"variant": job.variant, "split": job.split, "steps": index.steps})
    test, ids, labels, roles = test_videos(job.split, index)
    embedded = embed(model, as_rows(data["sequences"], index.lengths).subset(test), None,
                     device=config.device)
    np.savez(split_file(job.out, job.k, ".npz"), video_id=ids, label=labels, role=roles,
             embedding=embedded)
    split_file(job.out, job.k, ".json").write_text(json.dumps(history, indent=1))
    if resume.exists():
        resume.unlink()
    return job.name


def test_videos(split, index):
    """(rows, video ids, labels, roles) as arrays of the videos of ``index`` that ``split`` does
    not train on (splits.split_roles), in index order; the strings as wide as the index's
    longest."""
    roles = split_roles(split, list(zip(index.video_id, index.label)))
    rows = np.flatnonzero([video in roles for video in index.video_id])
    ids = np.array(index.video_id)[rows]
    return rows, ids, np.array(index.label)[rows], np.array([roles[v] for v in ids])


def done_dir(job):
    return TRAIN_DONE / job.key


def reuse(job):
    """Copy a finished job's files from an earlier run into place; whether there were any."""
    kept = done_dir(job)
    if not all((kept / f"split{s}").is_file() for s in SUFFIXES):
        return False
    job.out.mkdir(parents=True, exist_ok=True)
    for suffix in SUFFIXES:
        link_or_copy(kept / f"split{suffix}", split_file(job.out, job.k, suffix))
    return True


def keep(job):
    """Keep a finished job's files for later runs (linked, not copied, where possible)."""
    tmp = TRAIN_DONE / f"{job.key}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for suffix in SUFFIXES:
        link_or_copy(split_file(job.out, job.k, suffix), tmp / f"split{suffix}")
    shutil.rmtree(done_dir(job), ignore_errors=True)
    os.replace(tmp, done_dir(job))


def link_or_copy(source, target):
    if target.exists():
        target.unlink()
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def forget_others(jobs):
    """Drop kept jobs that this run did not use, and every scratch sequence file: what is left
    is at most one copy of this run's outputs."""
    keys = {job.key for job in jobs}
    for path in TRAIN_DONE.glob("*") if TRAIN_DONE.is_dir() else []:
        if path.name not in keys:
            shutil.rmtree(path, ignore_errors=True)
    shutil.rmtree(SEQUENCE_SCRATCH, ignore_errors=True)


# Workers are forked where the system can (they start at once, with the modules already
# imported; the parent has run no torch work yet, so no thread pool is copied half-way).
START = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
# Worker processes count finished epochs here, for the parent's progress bar.
epochs_done = None


def start_worker(counter):
    global epochs_done
    epochs_done = counter
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")


def tick():
    with epochs_done.get_lock():
        epochs_done.value += 1


def worker_job(job):
    """A job in a worker process (one BLAS thread, one torch thread: see run_job)."""
    return run_job(job, on_epoch=tick)


class Finisher:
    """What the parent does as each job ends: keep it for later runs, and delete a scratch
    sequence file once the last job reading it is done (disk holds only those in use)."""

    def __init__(self, jobs):
        self.readers = {}
        for job in jobs:
            self.readers[job.scratch] = self.readers.get(job.scratch, 0) + 1

    def __call__(self, job, ok=True):
        if ok and distributed.rank_and_size()[0] == 0:
            keep(job)
            log.info("%s done", job.name)
        self.readers[job.scratch] -= 1
        if not self.readers[job.scratch] and job.scratch.exists():
            job.scratch.unlink()


def run_all(jobs, workers, epochs):
    """Run ``jobs`` (those not reused), up to ``workers`` at a time, in processes of their own
    (in this process when ``workers`` is 1); one progress bar counts their epochs. Every job is
    kept as soon as it finishes; a failed job lets the running ones finish (so no work is lost)
    and then its error goes up."""
    counter = multiprocessing.get_context(START).Value("i", 0)
    start_worker(counter)
    finish = Finisher(jobs)
    bar = progress_bar(total=len(jobs) * epochs, desc="train", unit="epoch")
    with bar:
        if workers == 1:
            for job in jobs:
                run_job(job, on_epoch=lambda: (tick(), bar.update(1)))
                finish(job)
            return
        failed = None
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(START),
                                 initializer=start_worker, initargs=(counter,)) as pool:
            running = {pool.submit(worker_job, job): job for job in jobs}
            while running:
                finished, _ = wait(running, timeout=1, return_when=FIRST_COMPLETED)
                bar.update(counter.value - bar.n)
                for future in finished:
                    job = running.pop(future)
                    error = None if future.cancelled() else future.exception()
                    finish(job, not future.cancelled() and error is None)
                    if error is not None and failed is None:
                        failed = error
                        for other in running:
                            other.cancel()
            bar.update(counter.value - bar.n)
        if failed is not None:
            raise failed
