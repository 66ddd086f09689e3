"""Stage train@VARIANT-RATIO: one variant of Table 1 trained on the seen classes of every class
split of a ratio (params: seed, lambda, train). RATIO "all" trains on every class once, for the
semantic evaluations.

Usage: python stages/train.py VARIANT RATIO

Each split's videos are projected at load time by the split's own PCA
(data/pca/RATIO/split-k.npz), fitted on its training videos alone. Writes, per split k,
data/train/VARIANT/RATIO/split-k.pt (loadable with action2vec.model.load_model: the epoch chosen
on the validation classes), split-k.npz (embeddings of every video the model was not trained on,
each with its role: "unseen" (the zero-shot test set), "validation", or "held_out" (seen
classes' videos kept for generalized zero-shot)) and split-k.json (loss and validation top-1 per
epoch), and metrics/train/VARIANT_RATIO.csv (split 0's history, a DVC plot). An interrupted run
keeps its state after every epoch in .resume/train/ and the next `dvc repro` continues from it.
Under torchrun, training is data-parallel (DistributedDataParallel) and rank 0 writes the
outputs.
"""

import hashlib
import json
import logging
import sys

import numpy as np
import pandas as pd
import torch

from action2vec import Action2VecError, params
from action2vec.distributed import finish, setup
from action2vec.files import file_sha256
from action2vec.model import save_model
from action2vec.paths import (ALL, CLASSES, FEATURES, SEQUENCES, SPLITS, TRAIN_RESUME, loss_plot,
                              projection_file, run_dir, split_file)
from action2vec.labels import read_classes
from action2vec.pca import Projection
from action2vec.sequences import project_sequences, read_index
from action2vec.stage import run
from action2vec.training import TrainConfig, embed, fit_split
from action2vec.zsl import read_splits, split_roles

log = logging.getLogger("train")


def resume_path(*key):
    """Where an unfinished run with this key (params, split, input checksums) keeps its state."""
    text = json.dumps(key, sort_keys=True)
    return TRAIN_RESUME / f"{hashlib.sha256(text.encode()).hexdigest()[:16]}.pt"


def main():
    if len(sys.argv) != 3:
        raise Action2VecError("usage: python stages/train.py VARIANT RATIO")
    variant, ratio = sys.argv[1:]
    p = params.load("train_all" if ratio == ALL else "train")
    config = TrainConfig.from_params(p, variant)
    if config.device == "cuda" and not torch.cuda.is_available():
        raise Action2VecError("train.device: cuda requested but no GPU is visible")
    rank, _ = setup(config.device)
    splits = read_splits(SPLITS, ratio)
    index = read_index(SEQUENCES)
    vectors = read_classes(CLASSES).vectors
    out = run_dir(variant, ratio)
    out.mkdir(parents=True, exist_ok=True)
    inputs = [file_sha256(SEQUENCES), file_sha256(CLASSES)]  # once, not once per split
    for k, split in enumerate(splits):
        log.info("%s %s split %d: %d seen classes (%d videos held out), %d validation, "
                 "%d test classes", variant, ratio, k, len(split["seen"]),
                 len(split.get("held_out", [])), len(split.get("validation", [])),
                 len(split["unseen"]))
        projection = projection_file(ratio, k)
        data = project_sequences(FEATURES, index, Projection.load(projection))
        resume = resume_path(p, variant, ratio, k, split, inputs + [file_sha256(projection)])
        model, history = fit_split(data, vectors, split, config, resume)
        if rank != 0:  # under torchrun, rank 0 writes the outputs
            continue
        save_model(split_file(out, k, ".pt"), model,
                   {"variant": variant, "split": split, "steps": index.steps})
        roles = split_roles(split, list(zip(index.video_id, index.label)))
        test = np.array([video in roles for video in index.video_id], dtype=bool)
        ids = np.array(index.video_id)[test]
        np.savez(split_file(out, k, ".npz"), video_id=ids, label=np.array(index.label)[test],
                 role=np.array([roles[video] for video in ids]),
                 embedding=embed(model, data["sequences"][test], data["lengths"][test],
                                 device=config.device))
        split_file(out, k, ".json").write_text(json.dumps(history, indent=1))
        if k == 0:
            loss_plot(variant, ratio).parent.mkdir(parents=True, exist_ok=True)
            pd.DataFrame(history).to_csv(loss_plot(variant, ratio), index=False)
        resume.unlink()
    finish()


if __name__ == "__main__":
    run(main)
