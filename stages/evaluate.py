"""Stage evaluate: zero-shot recognition (section 4.1, Tables 1-2) for every variant and ratio
(params: zsl; the protocol's settings, which it records; features.backbone, layer and weights;
with features.backbone i3d, the ConSE baseline's conse.top and label space).

Each video that a split's model (data/train) or baseline (data/baseline) was not trained on was
embedded, with its role; ConSE (features.backbone i3d) embeds every video from the backbone's
Kinetics-400 classifier, with no training. Per split:
- ``top1``, ``top5``: unseen-class videos among the unseen classes (top-5 is null with 5 or
  fewer candidates: it would be 1.0 by construction);
- ``validation_top1``: validation-class videos among the validation classes, unselected: for a
  trained variant, at its last epoch; ``validation_top1_selected``: at the epoch chosen on it
  (the best), so biased upwards, and never beside an unselected score without saying so;
- ``gzsl_seen``, ``gzsl_unseen``: generalized zero-shot (Xian et al.): the held-out videos of
  the seen classes and the unseen-class videos, each among the seen and unseen classes;
  ``gzsl_calibrated_*`` the same after calibrated stacking (Chao et al.; scoring.choose_gamma),
  its gamma chosen on validation data by two-fold cross-fitting (see calibrated_rows);
- ``unflagged_top1``: top-1 over the unseen classes that no pretraining class of the backbone
  names (data/leakage.json), where the backbone's pretraining classes are known.
DEFINITIONS says how each is aggregated over splits; both output files carry it. Writes
reports/zsl.json (every figure), its headline figures in metrics/zsl.json (scoring.HEADLINE),
reports/protocol.json (how it was measured), reports/train.json (final losses) and
plots/confusion.csv (the first variant on the first ratio's first split).
"""

import json
import logging

import numpy as np

from action2vec import Action2VecError, baseline, conse, params
from action2vec.labels import read_classes
from action2vec.leakage_report import read_leakage
from action2vec.paths import (CLASSES, CONFUSION, FEATURES, LEAKAGE, PROTOCOL_REPORT, SPLITS,
                              TRAIN_REPORT, ZSL_METRICS, ZSL_REPORT, baseline_dir, run_dir,
                              split_file, split_files)
from action2vec.plots import write_confusion_csv
from action2vec.shards import iter_videos
from action2vec.stage import run
from action2vec.vectors import load_space
from action2vec.protocol import VARIANTS
from action2vec.scoring import (DEFINITIONS, HEADLINE_DEFINITIONS, LEVEL, chance, headline,
                                score_split, summarise)
from action2vec.splits import held_out_source, read_splits, single_class_warnings, split_roles

log = logging.getLogger("evaluate")
CONSE = "conse"  # the training-free baseline's name in the figures
CONSE_BACKBONE = "i3d"  # the backbone whose classifier ConSE uses (Kinetics-400)
CONSE_NOTE = ("ConSE names each video by Kinetics-400 classes: an unseen class that one of them "
              "names is not unseen for it (see unflagged_top1 and docs/leakage.md)")

def predictions_dir(variant, ratio):
    return baseline_dir(ratio) if variant == baseline.NAME else run_dir(variant, ratio)


def training_record(variant, ratio):
    """Mean over splits of the last epoch's loss terms, and of the epoch chosen on the
    validation classes (the last epoch where there are none)."""
    runs = [json.loads(p.read_text()) for p in split_files(predictions_dir(variant, ratio),
                                                           ".json")]
    last = [run[-1] for run in runs]
    out = {k: float(np.mean([r[k] for r in last])) for k in last[0]
           if k not in ("epoch", "chosen", "validation_top1", "validation_hits")}
    out["chosen_epoch"] = float(np.mean([next((r["epoch"] for r in run if r.get("chosen")),
                                              run[-1]["epoch"]) for run in runs]))
    return out


def last_hits(variant, ratio, k):
    """A trained variant's last-epoch validation hits on split ``k`` (None without)."""
    history = json.loads(split_file(run_dir(variant, ratio), k, ".json").read_text())
    return history[-1].get("validation_hits")


def load(path):
    with np.load(path) as saved:
        return {k: saved[k] for k in ("video_id", "role", "label", "embedding")}


def conse_embeddings(p, classes):
    """{"video_id", "label", "embedding"} of every video with features, by ConSE from the
    backbone's Kinetics-400 classifier (no training), in the label space of the classes."""
    if classes.spec != p["labels"]["vectors"]:
        raise Action2VecError(f"{CLASSES}: made with the word vectors {classes.spec!r}, but "
                              f"labels.vectors is {p['labels']['vectors']!r}; run `dvc repro "
                              "labels`")
    _, label_vectors = conse.kinetics_vectors(load_space(p["labels"]["vectors"]),
                                              p["labels"]["name_map"])
    weight, bias = conse.logits_layer(p["features"]["weights"])
    ids, labels, out = [], [], []
    for video, label, features in iter_videos(FEATURES):
        probabilities = conse.video_probabilities(features, weight, bias)
        ids.append(video)
        labels.append(label)
        out.append(conse.conse_embedding(probabilities, label_vectors, p["conse"]["top"]))
    return {"video_id": np.array(ids), "label": np.array(labels), "embedding": np.stack(out)}


def conse_split(embedded, split):
    """ConSE's embeddings of the videos a split does not train on, with their roles."""
    roles = split_roles(split, list(zip(embedded["video_id"], embedded["label"])))
    keep = np.array([v in roles for v in embedded["video_id"]])
    return {"video_id": embedded["video_id"][keep], "label": embedded["label"][keep],
            "embedding": embedded["embedding"][keep],
            "role": np.array([roles[v] for v in embedded["video_id"][keep]])}


def row_label(p, variant):
    """What a row records beside its scores: the features a baseline used."""
    features = p["features"]
    if variant == baseline.NAME:
        return {**baseline.features_used(features),
                "random_init": features["backbone"] == "c3d" and not features["weights"]}
    if variant == CONSE:
        return {"backbone": features["backbone"], "layer": "kinetics-400 logits",
                "top": p["conse"]["top"], "note": CONSE_NOTE}
    return {}


def protocol(p, leakage, splits):
    """How the metrics were measured, recorded beside them."""
    return {"pca_fit_on": p["pca"]["fit_on"], "pca_scale": p["pca"]["scale"],
            "validation_classes": p["zsl"]["validation"], "held_out_videos": p["zsl"]["held_out"],
            "held_out_from": held_out_source(splits),
            "gzsl_candidates": "seen and unseen classes (validation classes left out)",
            "bootstrap_resamples": p["zsl"]["bootstrap"], "interval_level": LEVEL,
            "loss_reduction": p["train"]["loss_reduction"],
            "lambda_schedule": p["train"]["lambda_schedule"],
            "backbone": p["features"]["backbone"],
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
    with_conse = p["features"]["backbone"] == CONSE_BACKBONE
    embedded = conse_embeddings(p, classes) if with_conse else None
    for warning in single_class_warnings(splits):
        log.warning("%s", warning)
    zsl, losses = {}, {}
    for ratio in cfg["ratios"]:
        zsl[ratio] = {}
        for variant in variants + ([CONSE] if with_conse else []):
            scored = []
            for k, split in enumerate(splits[ratio]):
                if variant == CONSE:
                    saved = conse_split(embedded, split)
                else:
                    saved = load(split_file(predictions_dir(variant, ratio), k, ".npz"))
                trained = variant in VARIANTS
                scored.append(score_split(saved, split, vectors, flagged, trained,
                                          last_hits(variant, ratio, k) if trained else None))
            zsl[ratio][variant] = {**summarise(scored, cfg["bootstrap"], p["seed"]),
                                   **row_label(p, variant)}
            if variant == variants[0] and ratio == cfg["ratios"][0]:
                write_confusion_csv(CONFUSION, *scored[0][2])
            if variant in VARIANTS:
                losses.setdefault(variant, {})[ratio] = training_record(variant, ratio)
            m = zsl[ratio][variant]
            log.info("%s %-15s top-1 %.3f [%.3f, %.3f]  validation %s  GZSL H %s", ratio,
                     variant, m["top1_mean"], m["top1_low"], m["top1_high"],
                     f"{m['validation_top1_mean']:.3f}" if "validation_top1_mean" in m else "-",
                     f"{m['gzsl_harmonic']:.3f}" if "gzsl_harmonic" in m else "-")
        zsl[ratio]["chance"] = chance(splits[ratio])
    for path in (ZSL_REPORT, ZSL_METRICS):
        path.parent.mkdir(exist_ok=True)
    ZSL_REPORT.write_text(json.dumps({"definitions": DEFINITIONS, **zsl}, indent=1))
    ZSL_METRICS.write_text(json.dumps({"definitions": HEADLINE_DEFINITIONS, **headline(zsl)},
                                      indent=1))
    TRAIN_REPORT.write_text(json.dumps(losses, indent=1))
    PROTOCOL_REPORT.write_text(json.dumps(protocol(p, leakage, splits), indent=1))


if __name__ == "__main__":
    run(main)
