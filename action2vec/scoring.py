"""Scoring zero-shot recognition (section 4.1): ranking classes for a video by the cosine
similarity of its embedding to their vectors (the one ranking of the package), top-1/top-5,
generalized zero-shot accuracy with calibrated stacking, bootstrap intervals, and a split's
scores aggregated over splits."""

import numpy as np

from action2vec.protocol import HELD_OUT, UNSEEN, VALIDATION

TOP_K = 5
TOP5_UNDEFINED = ("top-5 is null where there are 5 or fewer candidate classes: the true class "
                  "is then always among the 5 nearest, so top-5 would be 1.0 for every method, "
                  "chance included")



def normalise(x):
    """Rows scaled to unit length (a zero row stays zero)."""
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def cosines(embeddings, class_vectors):
    """(N, n_classes) cosine similarity of each embedding to each class vector: the one score
    every ranking of the package uses."""
    return normalise(np.asarray(embeddings, dtype=np.float64)) @ normalise(
        np.asarray(class_vectors, dtype=np.float64)).T


def rank_classes(embeddings, class_vectors):
    """Class indices ordered by cosine similarity, most similar first: (N, n_classes)."""
    return np.argsort(-cosines(embeddings, class_vectors), axis=1, kind="stable")


def top_k(query, names, matrix, k, exclude=()):
    """The ``k`` names whose rows of ``matrix`` are most cosine-similar to one ``query`` vector,
    leaving out ``exclude``: [(name, cosine)], best first (the first of tied rows first)."""
    scores = cosines(np.asarray(query)[None], matrix)[0]
    order = [i for i in rank_classes(np.asarray(query)[None], matrix)[0]
             if names[i] not in exclude]
    return [(names[i], float(scores[i])) for i in order[:k]]


def top_k_accuracy(embeddings, targets, class_vectors, k):
    """Fraction of videos whose true class is among the k nearest class vectors."""
    ranks = rank_classes(embeddings, class_vectors)[:, :k]
    return float(np.mean((ranks == np.asarray(targets)[:, None]).any(1)))


def zero_shot_report(embeddings, targets, class_vectors):
    """{"top1", "top5"}: the fraction of videos whose true class (an index into
    ``class_vectors``) is the nearest, or among the 5 nearest. top5 is None with 5 or fewer
    candidate classes, where it would be 1.0 by construction (TOP5_UNDEFINED says so)."""
    hits = rank_classes(embeddings, class_vectors) == np.asarray(targets)[:, None]
    top5 = float(hits[:, :TOP_K].any(1).mean()) if len(class_vectors) > TOP_K else None
    return {"top1": float(hits[:, 0].mean()), "top5": top5}


# The figures of a zero-shot report that `dvc metrics show` and `dvc exp show` compare; the
# report itself holds every figure.
HEADLINE = ("top1_mean", "top1_low", "top1_high", "gzsl_harmonic", "gzsl_calibrated_harmonic")


# The definitions of the headline figures (metrics/zsl.json), short enough for a table column.
HEADLINE_DEFINITIONS = {
    "top1_mean": "mean over splits of unseen-class top-1",
    "top1_low/high": "95% bootstrap interval over splits and test videos",
    "gzsl_harmonic": "2SU/(S+U) of the mean GZSL seen S and unseen U over splits",
    "gzsl_calibrated_harmonic": "the same after calibrated stacking",
    "chance": "uniform guess, aggregated the same way",
}


def headline(report):
    """The HEADLINE figures of a zero-shot report ({ratio: {variant: {figure: value}}}) that
    each of its entries has, in the same layout."""
    return {ratio: {variant: {k: figures[k] for k in HEADLINE if k in figures}
                    for variant, figures in variants.items()}
            for ratio, variants in report.items()}


def gzsl_rows(embeddings, targets, class_vectors, seen_mask, gamma=0.0):
    """(N, 3) int rows [true class, predicted class, 1 if the true class is seen]: each test
    video's nearest class among all of ``class_vectors`` (generalized zero-shot: a seen class
    can take an unseen-class video, and the other way round). ``gamma`` is subtracted from the
    seen classes' cosines first (calibrated stacking, see choose_gamma); 0 leaves them."""
    seen_mask = np.asarray(seen_mask, dtype=bool)
    if len(seen_mask) != len(class_vectors):
        raise ValueError(f"seen_mask has {len(seen_mask)} entries for {len(class_vectors)} classes")
    targets = np.asarray(targets, dtype=np.int64)
    scores = cosines(embeddings, class_vectors) - gamma * seen_mask
    predicted = np.argmax(scores, axis=1)
    return np.stack([targets, predicted, seen_mask[targets]], axis=1).astype(np.int64)


def harmonic(seen, unseen):
    """2su/(s+u): high only when neither side is sacrificed to the other (0 when both are 0,
    None when either is None)."""
    if seen is None or unseen is None:
        return None
    return 2 * seen * unseen / (seen + unseen) if seen + unseen > 0 else 0.0


def gzsl_from_rows(rows):
    """{"seen", "unseen", "harmonic"} of gzsl_rows' rows (see gzsl_report)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1, 3)
    seen = mean_class_accuracy(rows[rows[:, 2] == 1])
    unseen = mean_class_accuracy(rows[rows[:, 2] == 0])
    return {"seen": seen, "unseen": unseen, "harmonic": harmonic(seen, unseen)}


def mean_class_accuracy(rows):
    """The mean over the classes present in ``rows`` of each class's top-1 (None without rows):
    each class weighs the same whatever its number of videos (Xian et al., CVPR 2017)."""
    if not len(rows):
        return None
    total = np.bincount(rows[:, 0])
    correct = np.bincount(rows[:, 0], weights=rows[:, 0] == rows[:, 1], minlength=len(total))
    present = total > 0
    return float(np.mean(correct[present] / total[present]))


def gzsl_report(embeddings, targets, class_vectors, seen_mask, gamma=0.0):
    """Generalized zero-shot accuracy (Xian et al., CVPR 2017; for video, Mandal et al., CVPR
    2019): every test video (held-out seen-class videos and unseen-class videos) is ranked
    among all classes; "seen" and "unseen" are the mean per-class top-1 over the seen and the
    unseen classes that have test videos, "harmonic" is 2su/(s+u) (0 when both are 0), which is
    high only when neither side is sacrificed to the other. A side without test videos is
    None, and so is the harmonic mean. ``targets`` index ``class_vectors``; ``seen_mask``
    marks the seen classes among them; ``gamma`` as in gzsl_rows."""
    return gzsl_from_rows(gzsl_rows(embeddings, targets, class_vectors, seen_mask, gamma))


MAX_GAMMAS = 1000  # candidate gammas tried at most: the search stays linear in the videos


def choose_gamma(embeddings, targets, class_vectors, seen_mask):
    """Calibrated stacking (Chao et al., ECCV 2016): the ``gamma`` subtracted from the seen
    classes' cosines that gives the highest generalized zero-shot harmonic mean on these
    videos, which must be validation data (videos of seen classes not trained on, and of
    classes neither trained on nor tested). The harmonic mean only changes where a video's
    best seen class and best other class swap, so the candidates are the midpoints between
    consecutive margins (best seen cosine - best other cosine; MAX_GAMMAS of them at most),
    beyond both ends, and 0; of tied candidates the smallest |gamma| wins. 0 when a side has no
    video."""
    seen_mask = np.asarray(seen_mask, dtype=bool)
    targets = np.asarray(targets, dtype=np.int64)
    scores = cosines(embeddings, class_vectors)
    if not len(targets) or seen_mask[targets].all() or not seen_mask[targets].any():
        return 0.0
    best_seen = np.where(seen_mask, scores, -np.inf).argmax(1)
    best_other = np.where(seen_mask, -np.inf, scores).argmax(1)
    rows = np.arange(len(scores))
    margin = scores[rows, best_seen] - scores[rows, best_other]
    margins = np.unique(margin)
    middles = (margins[1:] + margins[:-1]) / 2
    if len(middles) > MAX_GAMMAS:  # many videos: evenly spaced quantiles of the midpoints
        middles = np.quantile(middles, np.linspace(0, 1, MAX_GAMMAS))
    candidates = np.concatenate([[0.0, margins[0] - 1e-6, margins[-1] + 1e-6], middles])
    best, best_h = 0.0, -1.0
    for gamma in sorted(candidates, key=lambda g: (abs(g), g)):
        predicted = np.where(margin > gamma, best_seen, best_other)
        h = gzsl_from_rows(np.stack([targets, predicted, seen_mask[targets]], axis=1))["harmonic"]
        if h > best_h:
            best, best_h = float(gamma), h
    return best


def bootstrap_interval(samples, statistic, n_resamples, seed, level=0.95, aggregate=np.mean):
    """(low, high): the central ``level`` percentile interval of an aggregate over splits,
    under a two-level bootstrap: each resample draws splits with replacement, then the rows
    (one per test video) of each drawn split with replacement, applies ``statistic`` (rows ->
    number or array) to each drawn split and ``aggregate`` (the list of those -> number; by
    default their mean) to them all. Both the choice of classes (splits) and of test videos move
    the score, so both are resampled. ``samples`` is a list over splits of row arrays;
    n_resamples 0 gives (None, None). A resample whose aggregate is NaN (undefined, e.g. a
    generalized zero-shot score that drew no video of one side) is left out. The same seed
    gives the same interval."""
    if n_resamples == 0:
        return None, None
    if not 0 < level < 1:
        raise ValueError(f"level {level} must lie between 0 and 1")
    if not len(samples) or any(len(rows) == 0 for rows in samples):
        raise ValueError("bootstrap_interval needs at least one split, and rows in every split")
    rng = np.random.default_rng(seed)
    values = np.empty(n_resamples)
    for i in range(n_resamples):
        drawn = [samples[j] for j in rng.integers(len(samples), size=len(samples))]
        values[i] = aggregate([statistic(rows[rng.integers(len(rows), size=len(rows))])
                               for rows in drawn])
    tail = 50 * (1 - level)
    low, high = np.nanpercentile(values, [tail, 100 - tail])  # NaN: a statistic undefined
    return float(low), float(high)


def confusion(targets, predictions, n_classes):
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(targets, dtype=int), np.asarray(predictions, dtype=int)), 1)
    return out


LEVEL = 0.95  # of every confidence interval
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


def nearest_index(embeddings, classes, vectors):
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
    predicted = np.array(unseen)[nearest_index(embedding[test], unseen, vectors)]
    rows = {"top1": predicted == label[test]}
    top5 = zero_shot_report(embedding[test], [unseen.index(c) for c in label[test]],
                            np.array([vectors[c] for c in unseen]))["top5"]
    if split.get("validation"):
        valid = role == VALIDATION
        guess = np.array(split["validation"])[nearest_index(embedding[valid], split["validation"],
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
