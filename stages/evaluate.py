"""Stage evaluate: zero-shot top-1/top-5 on the unseen classes (section 4.1) for the HRNN and
for the pooled-feature ridge-regression baseline, into metrics/zsl.json (params: evaluate)."""

import json
import logging
from pathlib import Path

import numpy as np

from action2vec import params
from action2vec.evaluation import fit_ridge, pooled, zero_shot_report
from action2vec.model import load_model
from action2vec.sequences import read_sequences
from action2vec.stage import run
from action2vec.training import embed

SEQUENCES = Path("data/sequence/sequences.h5")
LABELS = Path("data/labels/classes.json")
MODEL = Path("data/train/model.pt")
METRICS = Path("metrics/zsl.json")
log = logging.getLogger("evaluate")


def main():
    cfg = params.load("evaluate")["evaluate"]
    model, checkpoint = load_model(MODEL)
    seen, unseen = checkpoint["split"]["seen"], checkpoint["split"]["unseen"]
    data = read_sequences(SEQUENCES)
    vectors = {c["name"]: c["vector"] for c in json.loads(LABELS.read_text())["classes"]}
    labels = np.array(data["label"])
    test, train = np.isin(labels, unseen), np.isin(labels, seen)
    unseen_vectors = np.array([vectors[c] for c in unseen], dtype=np.float32)
    targets = np.array([unseen.index(c) for c in labels[test]])

    embeddings = embed(model, data["sequences"][test], data["lengths"][test])
    features = pooled(data["sequences"], data["lengths"])
    ridge = fit_ridge(features[train], np.array([vectors[c] for c in labels[train]]),
                      cfg["ridge_alpha"])
    results = {
        "action2vec": zero_shot_report(embeddings, targets, unseen_vectors),
        "pooled_c3d": zero_shot_report(ridge.predict(features[test]), targets, unseen_vectors),
        "chance_top1": 1 / len(unseen),
        "n_unseen_classes": len(unseen), "n_test_videos": int(test.sum()),
        "unseen_classes": unseen,
    }
    METRICS.parent.mkdir(exist_ok=True)
    METRICS.write_text(json.dumps(results, indent=1))
    log.info("zero-shot top-1: action2vec %.3f, pooled baseline %.3f, chance %.3f",
             results["action2vec"]["top1"], results["pooled_c3d"]["top1"], 1 / len(unseen))


if __name__ == "__main__":
    run(main)
