"""Stage train: every trained variant of Table 1 (zsl.variants) on every class split of every
ratio (zsl.ratios), and the full model on every class (ratio "all", for the semantic
evaluations and the `action2vec` command). Params: seed, lambda, train, sequence.dtype, and
zsl.variants/ratios.

Each training is a job (action2vec/jobs.py): up to ``train.workers`` run at once, each in its
own process on one thread, and give the same bytes as when run one after another. Each
split's videos are projected by the split's own PCA (data/pca/RATIO/split-k.npz), fitted on
its training videos alone (the full model's are the pca stage's shards, the values of the
sequence file), and streamed in batches from a ragged scratch file (each video's clips alone,
padded as they are read; ``train.store: disk``) or held in memory.

Writes, per variant, ratio and split k, data/train/VARIANT/RATIO/split-k.pt (loadable with
action2vec.model.load_model: the epoch chosen on the validation classes), split-k.npz
(embeddings of every video the model was not trained on, each with its role: "unseen" (the
zero-shot test set), "validation", or "held_out" (seen classes' videos kept for generalized
zero-shot)) and split-k.json (loss and validation top-1 per epoch, and the last epoch's
validation hits per video), and
plots/train/VARIANT_RATIO.csv (split 0's history, a DVC plot).

An interrupted run keeps each training's state after every epoch in .resume/train/, and its
finished trainings in .resume/train/done/: the next `dvc repro` continues from them. A run
reuses the finished trainings of the run before it whose settings, data and training code
(jobs.code_digest) are unchanged (adding a variant trains that variant alone). Under torchrun,
the jobs run one after another, each data-parallel (DistributedDataParallel), and rank 0 writes
the outputs.
"""

import json
import logging
from dataclasses import asdict

import pandas as pd
import torch

from action2vec import Action2VecError, params
from action2vec.distributed import broadcast, finish, setup
from action2vec.files import check_free_space, file_sha256
from action2vec.jobs import Job, forget_others, reuse, run_all, with_keys
from action2vec.labels import read_classes
from action2vec.limits import training_disk_bytes, training_workers, usable_cores
from action2vec.paths import (ALL_CLASSES, CLASSES, SEQUENCES, SPLITS, TRAIN, loss_plot,
                              projection_file, split_file)
from action2vec.sequences import ragged_bytes, read_lengths
from action2vec.stage import run
from action2vec.training import TrainConfig
from action2vec.splits import read_splits

log = logging.getLogger("train")


def plan(p):
    """Every job of the stage: the full model first (it trains on every video, the longest
    job), then each split's variants next to each other (they share its scratch file)."""
    pairs = [ALL_CLASSES] + [(variant, ratio) for ratio in p["zsl"]["ratios"]
                             for variant in p["zsl"]["variants"]]
    splits = {ratio: read_splits(SPLITS, ratio) for _, ratio in pairs}
    return [Job(variant, ratio, k, split, asdict(TrainConfig.from_params(p, variant)),
                str(projection_file(ratio, k)), p["train"]["store"], p["sequence"]["dtype"])
            for ratio in splits for k, split in enumerate(splits[ratio])
            for variant, r in pairs if r == ratio]


def write_loss_plots(jobs):
    """Split 0's history of each variant and ratio, as a DVC plot."""
    for job in jobs:
        if job.k == 0:
            history = json.loads(split_file(job.out, 0, ".json").read_text())
            loss_plot(job.variant, job.ratio).parent.mkdir(parents=True, exist_ok=True)
            rows = [{k: v for k, v in row.items() if k != "validation_hits"} for row in history]
            pd.DataFrame(rows).to_csv(loss_plot(job.variant, job.ratio), index=False)


def main():
    p = params.load("train")
    cfg = p["train"]
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise Action2VecError("train.device: cuda requested but no GPU is visible")
    rank, world = setup(cfg["device"])
    jobs = with_keys(plan(p), [file_sha256(SEQUENCES), file_sha256(CLASSES)])
    reused = broadcast([job.key for job in jobs if reuse(job)] if rank == 0 else None)
    todo = [job for job in jobs if job.key not in reused]
    workers = 1 if world > 1 else max(1, min(training_workers(cfg, usable_cores()), len(todo)))
    log.info("%d trainings: %d reused from the last run, %d to run on %d worker(s)",
             len(jobs), len(jobs) - len(todo), len(todo), workers)
    scratch = len({job.scratch for job in todo}) if cfg["store"] == "disk" else 0
    classes = read_classes(CLASSES)
    lengths, _, dim = read_lengths(SEQUENCES)
    check_free_space(TRAIN.parent, training_disk_bytes(
        cfg, dim, classes.dim, len(classes.names), len(todo), min(workers, scratch),
        ragged_bytes(lengths, dim, p["sequence"]["dtype"])),
        f"{len(todo)} trainings' models and resume states, and their scratch sequences")
    run_all(todo, workers, cfg["epochs"])
    finish()
    if rank == 0:
        write_loss_plots(jobs)
        forget_others(jobs)


if __name__ == "__main__":
    run(main)
