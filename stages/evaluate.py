"""Stage evaluate: zero-shot recognition (section 4.1, Tables 1-2) for every variant and ratio:
top-1 and top-5, mean and std over the class splits (params: zsl; features.backbone and
features.layer, recorded beside the pooled baseline's scores).

Each test video of an unseen class was embedded by its split's model (data/train) or baseline
(data/baseline); it gets the nearest unseen class word vector by cosine similarity. Writes
metrics/zsl.json, metrics/train.json (final losses), and plots/confusion.csv (the first variant
on the first ratio's first split, a DVC confusion plot).
"""

import json
import logging

import numpy as np

from action2vec import baseline, params
from action2vec.labels import read_classes
from action2vec.paths import (CLASSES, CONFUSION, SPLITS, TRAIN_METRICS, ZSL_METRICS,
                              baseline_dir, run_dir, split_file, split_files)
from action2vec.plots import write_confusion_csv
from action2vec.stage import run
from action2vec.zsl import (rank_classes, read_splits, single_class_warnings,
                            zero_shot_report)

log = logging.getLogger("evaluate")


def predictions_dir(variant, ratio):
    return baseline_dir(ratio) if variant == baseline.NAME else run_dir(variant, ratio)


def score_split(path, unseen, vectors):
    """(report, actual names, predicted names) of one split's test embeddings."""
    saved = np.load(path)
    class_vectors = np.array([vectors[c] for c in unseen])
    targets = [unseen.index(label) for label in saved["label"]]
    predicted = [unseen[i] for i in rank_classes(saved["embedding"], class_vectors)[:, 0]]
    return (zero_shot_report(saved["embedding"], targets, class_vectors),
            list(saved["label"]), predicted)


def summarise(reports):
    """Mean and standard deviation (over splits, ddof 0) of top-1 and top-5."""
    out = {}
    for key in ("top1", "top5"):
        values = np.array([r[key] for r in reports])
        out[f"{key}_mean"], out[f"{key}_std"] = float(values.mean()), float(values.std())
    out["n_splits"] = len(reports)
    return out


def final_losses(variant, ratio):
    """Mean over splits of the last epoch's loss terms."""
    rows = [json.loads(p.read_text())[-1]
            for p in split_files(predictions_dir(variant, ratio), ".json")]
    return {k: float(np.mean([r[k] for r in rows])) for k in rows[0] if k != "epoch"}


def main():
    p = params.load("evaluate")
    cfg = p["zsl"]
    splits = {ratio: read_splits(SPLITS, ratio) for ratio in cfg["ratios"]}
    vectors = read_classes(CLASSES).vectors
    variants = cfg["variants"] + [baseline.NAME]
    for warning in single_class_warnings(splits):
        log.warning("%s", warning)
    zsl, losses = {}, {}
    for ratio in cfg["ratios"]:
        zsl[ratio] = {}
        for variant in variants:
            scored = [score_split(split_file(predictions_dir(variant, ratio), k, ".npz"),
                                  split["unseen"], vectors)
                      for k, split in enumerate(splits[ratio])]
            zsl[ratio][variant] = summarise([s[0] for s in scored])
            if variant == variants[0] and ratio == cfg["ratios"][0]:
                write_confusion_csv(CONFUSION, scored[0][1], scored[0][2])
            if variant == baseline.NAME:
                zsl[ratio][variant].update(baseline.features_used(p["features"]))
            else:
                losses.setdefault(variant, {})[ratio] = final_losses(variant, ratio)
            log.info("%s %-12s top-1 %.3f ± %.3f", ratio, variant,
                     zsl[ratio][variant]["top1_mean"], zsl[ratio][variant]["top1_std"])
        n_unseen = [len(s["unseen"]) for s in splits[ratio]]
        zsl[ratio]["chance"] = {"top1_mean": float(np.mean([1 / n for n in n_unseen])),
                                "top5_mean": float(np.mean([min(5, n) / n for n in n_unseen]))}
    ZSL_METRICS.parent.mkdir(exist_ok=True)
    ZSL_METRICS.write_text(json.dumps(zsl, indent=1))
    TRAIN_METRICS.write_text(json.dumps(losses, indent=1))


if __name__ == "__main__":
    run(main)
