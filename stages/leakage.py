"""Stage leakage: the dataset's classes that the backbone's pretraining classes name (params:
dataset.name, labels.vectors, labels.name_map, features.backbone, features.weights,
leakage.threshold). UCF101 and HMDB51 against Kinetics-400 are flagged by the reviewed table
(leakage.reviewed_overlap); other classes by names: each class's words (classes.json) and each
pretraining class's are embedded as phrases in the label space, even when descriptions stand
for the classes, and a class is flagged at a cosine of at least leakage.threshold. Writes
data/leakage.json (per class: nearest pretraining class, cosine, flagged), which the splits and
evaluate stages read, with the label-only tables of UCF101 and HMDB51 against Kinetics-400
beside them, and reports/leakage.json: the counts of both, the threshold's calibration on the
TruZe splits, and the automatic flags against the reviewed table out of sample. No video is
read.
"""

import json
import logging

import numpy as np

from action2vec import Action2VecError, params
from action2vec.files import atomic
from action2vec.labels import read_classes
from action2vec.leakage import (balanced_accuracy, calibrate_on_truze, label_only,
                                label_only_summary, leakage_classes, out_of_sample,
                                packaged_vectors, pretraining, reviewed_flags)
from action2vec.leakage_report import write_leakage
from action2vec.paths import CLASSES, LEAKAGE, LEAKAGE_REPORT
from action2vec.stage import run, table
from action2vec.vectors import load_space

log = logging.getLogger("leakage")


def dataset_report(classes, space, name_map, backbone, weights, threshold, dataset_name):
    """(pretraining dataset or None, reason or None, per-class table, what flagged them) for the
    dataset's classes: the reviewed table where it covers the dataset, else the label vectors."""
    dataset, reason = pretraining(backbone, weights)
    if dataset is None:
        return dataset, reason, {}, None
    names, matrix = packaged_vectors(dataset, space, name_map)
    own = space.phrases([classes.words[n] for n in classes.names]).astype(np.float64)
    table = leakage_classes(classes.names, own, names, matrix, threshold)
    reviewed = reviewed_flags(dataset_name, dataset, classes.names)
    if reviewed is None:
        return dataset, reason, table, "label vectors"
    return dataset, reason, {name: {**row, "flagged": bool(reviewed[name]),
                                    "reviewed": reviewed[name]}
                             for name, row in table.items()}, "reviewed table"


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
    dataset, reason, per_class, flagged_by = dataset_report(
        classes, space, cfg["name_map"], backbone, p["features"]["weights"], threshold,
        p["dataset"]["name"])
    tables = label_only(space, threshold, cfg["name_map"])
    write_leakage(LEAKAGE, backbone, dataset, reason, threshold, per_class, tables, flagged_by)
    summary = label_only_summary(tables)
    metrics = {"backbone": backbone, "pretraining": dataset, "reason": reason,
               "threshold": threshold, "flagged_by": flagged_by, "n_classes": len(classes.names),
               "n_flagged": sum(e["flagged"] for e in per_class.values()) if dataset else None,
               "label_only": {"pretraining": "kinetics400", **calibration(tables, threshold),
                              **summary, "out_of_sample": out_of_sample(tables)}}
    LEAKAGE_REPORT.parent.mkdir(exist_ok=True)
    with atomic(LEAKAGE_REPORT) as tmp:
        tmp.write_text(json.dumps(metrics, indent=1))
    if dataset:
        log.info("%d of %d classes flagged against %s (%s)", metrics["n_flagged"],
                 len(classes.names), dataset, "the reviewed table" if flagged_by ==
                 "reviewed table" else f"cosine >= {threshold}")
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
