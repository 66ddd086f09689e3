"""Stage leakage: the dataset's classes that the backbone's pretraining classes name (params:
labels.vectors, labels.name_map, features.backbone, features.weights, leakage.threshold). Names
are compared with names: each class's words (classes.json) and each pretraining class's are
embedded as phrases in the label space, even when descriptions stand for the classes. Writes
data/leakage.json (per class: nearest pretraining class, cosine, flagged), which the splits and
evaluate stages read, with the label-only tables of UCF101 and HMDB51 against Kinetics-400
beside them, and reports/leakage.json: the counts of both and the threshold's calibration on the
TruZe splits. No video is read.
"""

import json
import logging

import numpy as np

from action2vec import Action2VecError, params
from action2vec.files import atomic
from action2vec.labels import read_classes
from action2vec.leakage import (balanced_accuracy, calibrate_on_truze, label_only,
                                label_only_summary, leakage_classes, packaged_vectors,
                                pretraining, write_leakage)
from action2vec.paths import CLASSES, LEAKAGE, LEAKAGE_REPORT
from action2vec.stage import run, table
from action2vec.vectors import load_space

log = logging.getLogger("leakage")


def dataset_report(classes, space, name_map, backbone, weights, threshold):
    """(pretraining dataset or None, reason or None, per-class table) for the dataset's classes."""
    dataset, reason = pretraining(backbone, weights)
    if dataset is None:
        return dataset, reason, {}
    names, matrix = packaged_vectors(dataset, space, name_map)
    own = space.phrases([classes.words[n] for n in classes.names]).astype(np.float64)
    return dataset, reason, leakage_classes(classes.names, own, names, matrix, threshold)


def calibration(tables, threshold):
    """The calibrated threshold and the balanced accuracies on the TruZe splits."""
    rows = [r for t in tables.values() for r in t.values()]
    best, best_accuracy = calibrate_on_truze(tables)
    return {"calibrated_threshold": best, "calibrated_balanced_accuracy": round(best_accuracy, 4),
            "balanced_accuracy": round(balanced_accuracy(
                [r["cosine"] for r in rows], [r["truze_unseen"] for r in rows], threshold), 4)}


def main():
    p = params.load("leakage")
    cfg, threshold = p["labels"], p["leakage"]["threshold"]
    backbone = p["features"]["backbone"]
    classes = read_classes(CLASSES)
    if classes.spec != cfg["vectors"]:
        raise Action2VecError(f"{CLASSES}: made with the word vectors {classes.spec!r}, but "
                              f"labels.vectors is {cfg['vectors']!r}; run `dvc repro labels`")
    space = load_space(cfg["vectors"])
    dataset, reason, per_class = dataset_report(classes, space, cfg["name_map"], backbone,
                                                p["features"]["weights"], threshold)
    tables = label_only(space, threshold, cfg["name_map"])
    write_leakage(LEAKAGE, backbone, dataset, reason, threshold, per_class, tables)
    summary = label_only_summary(tables)
    metrics = {"backbone": backbone, "pretraining": dataset, "reason": reason,
               "threshold": threshold, "n_classes": len(classes.names),
               "n_flagged": sum(e["flagged"] for e in per_class.values()) if dataset else None,
               "label_only": {"pretraining": "kinetics400", **calibration(tables, threshold),
                              **summary}}
    LEAKAGE_REPORT.parent.mkdir(exist_ok=True)
    with atomic(LEAKAGE_REPORT) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1))
    if dataset:
        log.info("%d of %d classes flagged against %s (cosine >= %s)", metrics["n_flagged"],
                 len(classes.names), dataset, threshold)
    else:
        log.info("no pretraining class list: %s", reason)
    print(table([[d, s["n_classes"], s["n_flagged"], s["n_truze_unseen"],
                  s["truze_unseen_flagged"]] for d, s in summary.items()],
                ["vs kinetics400", "classes", "flagged", "TruZe unseen", "TruZe unseen flagged"]))
    log.info("threshold %s: balanced accuracy %.4f on the TruZe splits (calibrated: %s, %.4f)",
             threshold, metrics["label_only"]["balanced_accuracy"],
             metrics["label_only"]["calibrated_threshold"],
             metrics["label_only"]["calibrated_balanced_accuracy"])
    calibrated = metrics["label_only"]["calibrated_threshold"]
    if calibrated != threshold:
        log.warning("leakage.threshold %s is not the one calibrated on the TruZe splits for "
                    "labels.vectors %s: set leakage.threshold to %s", threshold, cfg["vectors"],
                    calibrated)


if __name__ == "__main__":
    run(main)
