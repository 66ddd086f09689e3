"""Stage evaluate: zero-shot recognition (section 4.1, Tables 1-2) for every variant and ratio
(params: zsl; the protocol's settings, which it records; features.backbone and features.layer).

Each video that a split's model (data/train) or baseline (data/baseline) was not trained on was
embedded, with its role. Per split:
- ``top1``, ``top5``: unseen-class videos among the unseen classes (top-5 is null with 5 or
  fewer candidates: it would be 1.0 by construction);
- ``validation_top1``: validation-class videos among the validation classes, which every choice
  (the epoch, the PCA scale) is made on;
- ``gzsl_seen``, ``gzsl_unseen``, ``gzsl_harmonic``: generalized zero-shot (Xian et al.): the
  held-out videos of the seen classes and the unseen-class videos, each among all classes;
- ``unflagged_top1``: top-1 over the unseen classes that no pretraining class of the backbone
  names (data/leakage.json), where the backbone's pretraining classes are known.
Each is reported as the mean and std over splits and a bootstrap confidence interval over splits
and test videos (``_low``, ``_high``). Writes reports/zsl.json (every figure), its headline
figures in metrics/zsl.json (zsl.HEADLINE), reports/protocol.json (how it was measured),
reports/train.json (final losses) and plots/confusion.csv (the first variant on the first
ratio's first split).
"""

import json
import logging

import numpy as np

from action2vec import baseline, params
from action2vec.labels import read_classes
from action2vec.leakage import read_leakage
from action2vec.paths import (CLASSES, CONFUSION, LEAKAGE, PROTOCOL_REPORT, SPLITS,
                              TRAIN_REPORT, ZSL_METRICS, ZSL_REPORT, baseline_dir, run_dir,
                              split_file, split_files)
from action2vec.plots import write_confusion_csv
from action2vec.stage import run
from action2vec.zsl import (HELD_OUT, TOP_K, TOP5_UNDEFINED, UNSEEN, VALIDATION, bootstrap_interval,
                            gzsl_from_rows, gzsl_rows, headline, held_out_source, rank_classes,
                            read_splits, single_class_warnings, zero_shot_report)

log = logging.getLogger("evaluate")
LEVEL = 0.95  # of every confidence interval


def hit_rate(rows):
    return float(np.mean(rows))


def gzsl_statistic(key):
    """A statistic of gzsl_rows' rows -> one of gzsl_from_rows' accuracies (NaN where a
    resample drew no video of one side)."""
    def statistic(rows):
        value = gzsl_from_rows(rows)[key]
        return float("nan") if value is None else value
    return statistic


# Every score: (which per-video rows it is computed from, the statistic of those rows), so
# that the bootstrap resamples the rows and recomputes the score.
SCORES = {"top1": ("top1", hit_rate), "validation_top1": ("validation_top1", hit_rate),
          "unflagged_top1": ("unflagged_top1", hit_rate),
          "gzsl_seen": ("gzsl", gzsl_statistic("seen")),
          "gzsl_unseen": ("gzsl", gzsl_statistic("unseen")),
          "gzsl_harmonic": ("gzsl", gzsl_statistic("harmonic"))}


def predictions_dir(variant, ratio):
    return baseline_dir(ratio) if variant == baseline.NAME else run_dir(variant, ratio)


def nearest(embeddings, classes, vectors):
    """Index into ``classes`` of each embedding's nearest class vector by cosine."""
    return rank_classes(embeddings, np.array([vectors[c] for c in classes]))[:, 0]


def score_split(path, split, classes, vectors, flagged):
    """({score: per-video rows}, top-5, (actual, predicted) unseen class names) of one split's
    saved embeddings; ``classes`` are all the classes, ``flagged`` those the backbone's
    pretraining names (None: not known)."""
    saved = np.load(path)
    role, label, embedding = saved["role"], saved["label"], saved["embedding"]
    test = role == UNSEEN
    unseen = split["unseen"]
    predicted = np.array(unseen)[nearest(embedding[test], unseen, vectors)]
    rows = {"top1": predicted == label[test]}
    top5 = zero_shot_report(embedding[test], [unseen.index(c) for c in label[test]],
                            np.array([vectors[c] for c in unseen]))["top5"]
    if split.get("validation"):
        valid = role == VALIDATION
        guess = np.array(split["validation"])[nearest(embedding[valid], split["validation"],
                                                      vectors)]
        rows["validation_top1"] = guess == label[valid]
    if (role == HELD_OUT).any():
        both = test | (role == HELD_OUT)
        index = {c: i for i, c in enumerate(classes)}
        rows["gzsl"] = gzsl_rows(embedding[both], [index[c] for c in label[both]],
                                 np.array([vectors[c] for c in classes]),
                                 np.isin(classes, split["seen"]))
    if flagged is not None:
        rows["unflagged_top1"] = rows["top1"][~np.isin(label[test], flagged)]
    return rows, top5, (list(label[test]), list(predicted))


def summarise(scored, resamples, seed):
    """Mean, std (over splits, ddof 0) and bootstrap interval of every score all splits have,
    and top-5 (null, with ``top5_note``, where undefined)."""
    out = {}
    for name, (key, statistic) in SCORES.items():
        samples = [rows.get(key) for rows, _, _ in scored]
        if any(s is None or len(s) == 0 for s in samples):
            continue  # not measured (no validation classes, ...) or nothing left to measure
        values = np.array([statistic(s) for s in samples])
        low, high = bootstrap_interval(samples, statistic, resamples, seed, LEVEL)
        out.update({f"{name}_mean": float(values.mean()), f"{name}_std": float(values.std()),
                    f"{name}_low": low, f"{name}_high": high})
    top5 = [t for _, t, _ in scored]
    if any(t is None for t in top5):
        out.update({"top5_mean": None, "top5_std": None, "top5_note": TOP5_UNDEFINED})
    else:
        out.update({"top5_mean": float(np.mean(top5)), "top5_std": float(np.std(top5))})
    out["n_splits"] = len(scored)
    return out


def chance(splits, n_classes):
    """What guessing scores, as the mean over splits."""
    n_unseen = [len(s["unseen"]) for s in splits]
    out = {"top1_mean": float(np.mean([1 / n for n in n_unseen]))}
    out["top5_mean"] = (float(np.mean([TOP_K / n for n in n_unseen])) if min(n_unseen) > TOP_K
                        else None)
    if all(s.get("validation") for s in splits):
        out["validation_top1_mean"] = float(np.mean([1 / len(s["validation"]) for s in splits]))
    for name in ("gzsl_seen", "gzsl_unseen", "gzsl_harmonic"):
        out[f"{name}_mean"] = 1 / n_classes  # a uniform guess among all classes
    return out


def training_record(variant, ratio):
    """Mean over splits of the last epoch's loss terms, and of the epoch chosen on the
    validation classes (the last epoch where there are none)."""
    runs = [json.loads(p.read_text()) for p in split_files(predictions_dir(variant, ratio),
                                                           ".json")]
    last = [run[-1] for run in runs]
    out = {k: float(np.mean([r[k] for r in last])) for k in last[0]
           if k not in ("epoch", "chosen", "validation_top1")}
    out["chosen_epoch"] = float(np.mean([next((r["epoch"] for r in run if r.get("chosen")),
                                              run[-1]["epoch"]) for run in runs]))
    return out


def protocol(p, leakage, splits):
    """How the metrics were measured, recorded beside them."""
    return {"pca_fit_on": p["pca"]["fit_on"], "pca_scale": p["pca"]["scale"],
            "validation_classes": p["zsl"]["validation"], "held_out_videos": p["zsl"]["held_out"],
            "held_out_from": held_out_source(splits),
            "bootstrap_resamples": p["zsl"]["bootstrap"], "interval_level": LEVEL,
            "loss_reduction": p["train"]["loss_reduction"], "backbone": p["features"]["backbone"],
            "leakage_known": leakage.available, "leakage_reason": leakage.reason,
            "flagged_classes": len(leakage.flagged),
            "flagged_never_unseen": p["leakage"]["exclude"]}


def main():
    p = params.load("evaluate")
    cfg = p["zsl"]
    splits = {ratio: read_splits(SPLITS, ratio) for ratio in cfg["ratios"]}
    classes = read_classes(CLASSES)
    vectors = classes.vectors
    leakage = read_leakage(LEAKAGE)
    flagged = leakage.flagged if leakage.available else None
    variants = cfg["variants"] + [baseline.NAME]
    for warning in single_class_warnings(splits):
        log.warning("%s", warning)
    zsl, losses = {}, {}
    for ratio in cfg["ratios"]:
        zsl[ratio] = {}
        for variant in variants:
            scored = [score_split(split_file(predictions_dir(variant, ratio), k, ".npz"),
                                  split, classes.names, vectors, flagged)
                      for k, split in enumerate(splits[ratio])]
            zsl[ratio][variant] = summarise(scored, cfg["bootstrap"], p["seed"])
            if variant == variants[0] and ratio == cfg["ratios"][0]:
                write_confusion_csv(CONFUSION, *scored[0][2])
            if variant == baseline.NAME:
                zsl[ratio][variant].update(baseline.features_used(p["features"]))
            else:
                losses.setdefault(variant, {})[ratio] = training_record(variant, ratio)
            m = zsl[ratio][variant]
            log.info("%s %-12s top-1 %.3f ± %.3f [%.3f, %.3f]  validation %s  GZSL H %s", ratio,
                     variant, m["top1_mean"], m["top1_std"], m["top1_low"], m["top1_high"],
                     f"{m['validation_top1_mean']:.3f}" if "validation_top1_mean" in m else "-",
                     f"{m['gzsl_harmonic_mean']:.3f}" if "gzsl_harmonic_mean" in m else "-")
        zsl[ratio]["chance"] = chance(splits[ratio], len(classes.names))
    for path in (ZSL_REPORT, ZSL_METRICS):
        path.parent.mkdir(exist_ok=True)
    ZSL_REPORT.write_text(json.dumps(zsl, indent=1))
    ZSL_METRICS.write_text(json.dumps(headline(zsl), indent=1))
    TRAIN_REPORT.write_text(json.dumps(losses, indent=1))
    PROTOCOL_REPORT.write_text(json.dumps(protocol(p, leakage, splits), indent=1))


if __name__ == "__main__":
    run(main)
