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
  ``gzsl_calibrated_*`` the same after calibrated stacking (Chao et al.; zsl.choose_gamma),
  its gamma chosen on validation data by two-fold cross-fitting (see calibrated_rows);
- ``unflagged_top1``: top-1 over the unseen classes that no pretraining class of the backbone
  names (data/leakage.json), where the backbone's pretraining classes are known.
DEFINITIONS says how each is aggregated over splits; both output files carry it. Writes
reports/zsl.json (every figure), its headline figures in metrics/zsl.json (zsl.HEADLINE),
reports/protocol.json (how it was measured), reports/train.json (final losses) and
plots/confusion.csv (the first variant on the first ratio's first split).
"""

import json
import logging

import numpy as np

from action2vec import Action2VecError, baseline, conse, params
from action2vec.labels import read_classes
from action2vec.leakage import read_leakage
from action2vec.paths import (CLASSES, CONFUSION, FEATURES, LEAKAGE, PROTOCOL_REPORT, SPLITS,
                              TRAIN_REPORT, ZSL_METRICS, ZSL_REPORT, baseline_dir, run_dir,
                              split_file, split_files)
from action2vec.plots import write_confusion_csv
from action2vec.shards import iter_videos
from action2vec.stage import run
from action2vec.vectors import load_space
from action2vec.zsl import (HELD_OUT, TOP_K, TOP5_UNDEFINED, UNSEEN, VALIDATION, VARIANTS,
                            bootstrap_interval, choose_gamma, gzsl_from_rows, gzsl_rows,
                            harmonic, headline, held_out_source, rank_classes, read_splits,
                            single_class_warnings, split_roles, zero_shot_report)

log = logging.getLogger("evaluate")
LEVEL = 0.95  # of every confidence interval
CONSE = "conse"  # the training-free baseline's name in the figures
CONSE_BACKBONE = "i3d"  # the backbone whose classifier ConSE uses (Kinetics-400)
CONSE_NOTE = ("ConSE names each video by Kinetics-400 classes: an unseen class that one of them "
              "names is not unseen for it (see unflagged_top1 and docs/leakage.md)")

# How every figure is aggregated over a ratio's splits; written into both output files.
DEFINITIONS = {
    "NAME_mean": "mean over the splits of the split's score",
    "NAME_std": "sample standard deviation (ddof 1) of the split scores; null with 1 split",
    "NAME_low, NAME_high": "95% percentile bootstrap interval of the same aggregate, "
                           "resampling splits, then each split's test videos",
    "top1": "unseen-class test videos ranked among the split's unseen classes: share right",
    "validation_top1": "validation-class videos among the validation classes, unselected "
                       "(trained variants: last epoch)",
    "validation_top1_selected": "the same at the epoch chosen as the best on it: biased upwards",
    "gzsl_seen, gzsl_unseen": "held-out seen-class and unseen-class videos ranked among seen + "
                              "unseen classes (not validation classes): mean per-class top-1",
    "gzsl_harmonic": "2SU/(S+U) of S = gzsl_seen_mean and U = gzsl_unseen_mean (H of the means)",
    "gzsl_harmonic_split_mean": "mean over the splits of each split's 2SU/(S+U)",
    "gzsl_calibrated_*": "the same after subtracting gamma from seen-class cosines, gamma chosen "
                         "on validation classes and held-out videos of the other fold",
    "chance": "a uniform guess among the same candidates, aggregated the same way",
}


def hit_rate(rows):
    return float(np.mean(rows))


def gzsl_statistic(key):
    """A statistic of gzsl_rows' rows -> one of gzsl_from_rows' accuracies (NaN where a
    resample drew no video of one side)."""
    def statistic(rows):
        value = gzsl_from_rows(rows)[key]
        return float("nan") if value is None else value
    return statistic


def both_sides(rows):
    """[seen, unseen] accuracies of gzsl_rows' rows (NaN where a side has no video)."""
    return np.array([gzsl_statistic("seen")(rows), gzsl_statistic("unseen")(rows)])


def harmonic_of_means(values):
    """2SU/(S+U) of the means over splits of [seen, unseen] pairs (NaN if undefined)."""
    seen, unseen = np.mean(values, axis=0)
    if np.isnan(seen) or np.isnan(unseen):
        return float("nan")
    return harmonic(float(seen), float(unseen))


# Every score averaged over splits: (which per-video rows it is computed from, the statistic of
# those rows), so that the bootstrap resamples the rows and recomputes the score.
SCORES = {"top1": ("top1", hit_rate), "validation_top1": ("validation_top1", hit_rate),
          "validation_top1_selected": ("validation_top1_selected", hit_rate),
          "unflagged_top1": ("unflagged_top1", hit_rate),
          "gzsl_seen": ("gzsl", gzsl_statistic("seen")),
          "gzsl_unseen": ("gzsl", gzsl_statistic("unseen")),
          "gzsl_calibrated_seen": ("gzsl_calibrated", gzsl_statistic("seen")),
          "gzsl_calibrated_unseen": ("gzsl_calibrated", gzsl_statistic("unseen"))}
# The generalized zero-shot rows whose PREFIX_harmonic is the harmonic mean of the means over
# splits of PREFIX_seen and PREFIX_unseen.
HARMONICS = ("gzsl", "gzsl_calibrated")


def predictions_dir(variant, ratio):
    return baseline_dir(ratio) if variant == baseline.NAME else run_dir(variant, ratio)


def nearest(embeddings, classes, vectors):
    """Index into ``classes`` of each embedding's nearest class vector by cosine."""
    return rank_classes(embeddings, np.array([vectors[c] for c in classes]))[:, 0]


def folds(video_ids, labels):
    """0 or 1 for each video: each class's videos, in id order, alternate between the folds."""
    out, seen = np.zeros(len(video_ids), dtype=int), {}
    for i in np.argsort(video_ids, kind="stable"):
        out[i] = seen.get(labels[i], 0) % 2
        seen[labels[i]] = seen.get(labels[i], 0) + 1
    return out


def calibrated_rows(saved, split, vectors):
    """(gzsl_rows after calibrated stacking, [gamma_0, gamma_1]) of a split; (None, None)
    without validation classes or held-out videos. Gamma must be chosen on validation data, and the
    held-out seen-class videos are the test of the seen side, so they are cross-fitted: the
    held-out videos are split in two folds (each class alternating); gamma_f is chosen on fold
    f with the validation classes' videos (candidates: seen + validation classes) and applied
    to the other fold's videos; the unseen-class videos get the mean of the two gammas."""
    video_id, role, label, embedding = (saved[k] for k in ("video_id", "role", "label",
                                                            "embedding"))
    held, valid, test = role == HELD_OUT, role == VALIDATION, role == UNSEEN
    if not split.get("validation") or not held.any():
        return None, None
    fold = np.full(len(role), -1)
    fold[held] = folds(video_id[held], label[held])
    gammas = []
    for f in (0, 1):
        chosen = valid | (fold == f)
        gammas.append(choose_gamma(*candidates(embedding[chosen], label[chosen], split["seen"],
                                               split["validation"], vectors)))
    parts = [(fold == 1, gammas[0]), (fold == 0, gammas[1]), (test, float(np.mean(gammas)))]
    rows = [gzsl_rows(*candidates(embedding[mask], label[mask], split["seen"], split["unseen"],
                                  vectors), gamma=gamma) for mask, gamma in parts if mask.any()]
    return np.concatenate(rows), gammas


def candidates(embedding, label, seen, others, vectors):
    """(embedding, targets, class vectors, seen mask) of generalized zero-shot among ``seen`` +
    ``others`` classes."""
    names = list(seen) + list(others)
    index = {c: i for i, c in enumerate(names)}
    return (embedding, [index[c] for c in label], np.array([vectors[c] for c in names]),
            np.arange(len(names)) < len(seen))


def score_split(saved, split, vectors, flagged, selected=False, last_hits=None):
    """({score: per-video rows}, top-5, (actual, predicted) unseen class names, gamma) of one
    split's embeddings ``saved`` ({"video_id", "role", "label", "embedding"} arrays); ``flagged``
    are the classes the backbone's pretraining names (None: not known). ``selected``: the saved
    embeddings are those of the epoch chosen on the validation classes (a trained variant), so
    their validation score is the selected one, and ``last_hits`` (its last epoch's validation
    hits, None if not recorded) give the unselected one."""
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
        if not selected:
            rows["validation_top1"] = guess == label[valid]
        else:
            rows["validation_top1_selected"] = guess == label[valid]
            if last_hits is not None:
                rows["validation_top1"] = np.asarray(last_hits, dtype=bool)
    if (role == HELD_OUT).any():
        both = test | (role == HELD_OUT)
        rows["gzsl"] = gzsl_rows(*candidates(embedding[both], label[both], split["seen"],
                                             unseen, vectors))
    rows["gzsl_calibrated"], gammas = calibrated_rows(saved, split, vectors)
    gamma = None if gammas is None else float(np.mean(gammas))
    if flagged is not None:
        rows["unflagged_top1"] = rows["top1"][~np.isin(label[test], flagged)]
    return rows, top5, (list(label[test]), list(predicted)), gamma


def spread(values):
    """(mean, std): the mean over splits and the sample std (ddof 1; None with one split)."""
    values = np.asarray(values, dtype=float)
    return float(values.mean()), (float(values.std(ddof=1)) if len(values) > 1 else None)


def summarise(scored, resamples, seed):
    """Every figure of DEFINITIONS that all splits have: means, stds and bootstrap intervals of
    SCORES, the harmonic means of HARMONICS, the mean gamma, and top-5 (null, with
    ``top5_note``, where undefined)."""
    out = {}
    for name, (key, statistic) in SCORES.items():
        samples = [rows.get(key) for rows, _, _, _ in scored]
        if any(s is None or len(s) == 0 for s in samples):
            continue  # not measured (no validation classes, ...) or nothing left to measure
        mean, std = spread([statistic(s) for s in samples])
        low, high = bootstrap_interval(samples, statistic, resamples, seed, LEVEL)
        out.update({f"{name}_mean": mean, f"{name}_std": std, f"{name}_low": low,
                    f"{name}_high": high})
    for prefix in HARMONICS:
        if f"{prefix}_seen_mean" not in out:
            continue
        samples = [rows[prefix] for rows, _, _, _ in scored]
        low, high = bootstrap_interval(samples, both_sides, resamples, seed, LEVEL,
                                       aggregate=harmonic_of_means)
        per_split = [gzsl_from_rows(s)["harmonic"] for s in samples]
        split_mean, split_std = spread([np.nan if h is None else h for h in per_split])
        name = f"{prefix}_harmonic"
        out.update({name: harmonic(out[f"{prefix}_seen_mean"], out[f"{prefix}_unseen_mean"]),
                    f"{name}_low": low, f"{name}_high": high,
                    f"{name}_split_mean": split_mean, f"{name}_split_std": split_std})
    gammas = [gamma for _, _, _, gamma in scored]
    if all(g is not None for g in gammas):
        out["gzsl_gamma_mean"] = float(np.mean(gammas))
    top5 = [t for _, t, _, _ in scored]
    if any(t is None for t in top5):
        out.update({"top5_mean": None, "top5_std": None, "top5_note": TOP5_UNDEFINED})
    else:
        out["top5_mean"], out["top5_std"] = spread(top5)
    out["n_splits"] = len(scored)
    return out


def chance(splits):
    """What a uniform guess among the same candidates scores, aggregated as the scores are."""
    n_unseen = [len(s["unseen"]) for s in splits]
    out = {"top1_mean": float(np.mean([1 / n for n in n_unseen]))}
    out["top5_mean"] = (float(np.mean([TOP_K / n for n in n_unseen])) if min(n_unseen) > TOP_K
                        else None)
    if all(s.get("validation") for s in splits):
        out["validation_top1_mean"] = float(np.mean([1 / len(s["validation"]) for s in splits]))
    # each side's per-class top-1 is 1 / (seen + unseen classes), whatever the side
    side = float(np.mean([1 / (len(s["seen"]) + len(s["unseen"])) for s in splits]))
    for prefix in ("gzsl", "gzsl_calibrated"):
        out.update({f"{prefix}_seen_mean": side, f"{prefix}_unseen_mean": side,
                    f"{prefix}_harmonic": harmonic(side, side)})
    return out


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


# The definitions of the headline figures (metrics/zsl.json), short enough for a table column.
HEADLINE_DEFINITIONS = {
    "top1_mean": "mean over splits of unseen-class top-1",
    "top1_low/high": "95% bootstrap interval over splits and test videos",
    "gzsl_harmonic": "2SU/(S+U) of the mean GZSL seen S and unseen U over splits",
    "gzsl_calibrated_harmonic": "the same after calibrated stacking",
    "chance": "uniform guess, aggregated the same way",
}


if __name__ == "__main__":
    run(main)
