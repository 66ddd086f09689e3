"""Stage train: the HRNN on the seen classes of a zero-shot split (params: train, lambda, seed).

Writes the model (data/train/model.pt, loadable with action2vec.model.load_model), the class
split (data/train/split.json), the loss per epoch (metrics/train_history.csv, a DVC plot) and
the last epoch's losses (metrics/train.json). An interrupted run (Ctrl-C, a killed job) keeps
its state after every epoch in .resume/train/ and the next `dvc repro` continues from it.
"""

import hashlib
import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from action2vec import Action2VecError, params
from action2vec.extractors import file_sha256
from action2vec.model import HRNN, HRNNConfig, save_model
from action2vec.sequences import read_sequences
from action2vec.stage import run
from action2vec.training import seed_everything, split_classes, train

SEQUENCES = Path("data/sequence/sequences.h5")
LABELS = Path("data/labels/classes.json")
OUT = Path("data/train")
HISTORY = Path("metrics/train_history.csv")
METRICS = Path("metrics/train.json")
RESUME = Path(".resume/train")  # per-epoch state of an unfinished run; not a DVC output
log = logging.getLogger("train")


def resume_path(p):
    """Where an unfinished run with these params and inputs keeps its state."""
    key = json.dumps([p, file_sha256(SEQUENCES), file_sha256(LABELS)], sort_keys=True)
    return RESUME / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.pt"


def main():
    p = params.load("train")
    cfg = p["train"]
    if cfg["device"] == "cuda" and not torch.cuda.is_available():
        raise Action2VecError("train.device: cuda requested but no GPU is visible")
    data = read_sequences(SEQUENCES)
    labels = json.loads(LABELS.read_text())
    vectors = {c["name"]: c["vector"] for c in labels["classes"]}
    try:
        seen, unseen = split_classes(sorted(set(data["label"])), cfg["unseen_fraction"], p["seed"])
    except ValueError as exc:
        raise Action2VecError(f"train.unseen_fraction: {exc}")
    index = {c: i for i, c in enumerate(seen)}
    rows = np.array([label in index for label in data["label"]])
    targets = np.array([index[label] for label in data["label"] if label in index])
    log.info("training on %d videos of %d seen classes; %d unseen classes held out",
             rows.sum(), len(seen), len(unseen))

    seed_everything(p["seed"])
    config = HRNNConfig(input_dim=data["sequences"].shape[2], embed_dim=labels["dim"],
                        n_classes=len(seen), chunk=cfg["chunk"], lstm1=cfg["lstm1"],
                        lstm2=cfg["lstm2"], attention=cfg["attention"], dropout=cfg["dropout"])
    model = HRNN(config)
    resume = resume_path(p)
    history = train(model, data["sequences"][rows], data["lengths"][rows], targets,
                    np.array([vectors[c] for c in seen], dtype=np.float32), cfg["epochs"],
                    cfg["batch_size"], cfg["lr"], p["lambda"], cfg["lambda_warmup"], p["seed"],
                    cfg["device"], resume=resume)

    OUT.mkdir(parents=True, exist_ok=True)
    split = {"seen": seen, "unseen": unseen, "seed": p["seed"],
             "unseen_fraction": cfg["unseen_fraction"]}
    (OUT / "split.json").write_text(json.dumps(split, indent=1))
    save_model(OUT / "model.pt", model, {"split": split, "vectors": labels["vectors"],
                                         "steps": data["sequences"].shape[1]})
    HISTORY.parent.mkdir(exist_ok=True)
    pd.DataFrame(history).to_csv(HISTORY, index=False)
    METRICS.write_text(json.dumps({"final_" + k: v for k, v in history[-1].items()
                                   if k != "epoch"}, indent=1))
    resume.unlink()


if __name__ == "__main__":
    run(main)
