"""The zero-shot protocol (section 4.1, Table 1): the trained variants, the seen/unseen class
ratios, drawing the class splits (with validation classes and held-out seen videos), ranking
classes for a video by the cosine similarity of its embedding to their word vectors, and the
metrics: zero-shot top-1/top-5, generalized zero-shot accuracy (with calibrated stacking), and
bootstrap intervals."""

import csv
import hashlib
import json
from importlib import resources
from pathlib import Path

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import TEST
from action2vec.paths import ALL

# Table 1's trained variants: model kind, attention, and whether the cross-entropy term is on.
# (`cos_only` keeps attention: it differs from the full model by the loss alone.) `shuffled_labels`
# is a negative control, not in the paper: the full model trained on labels permuted among the
# training videos, which must score at chance.
VARIANTS = {
    "action2vec": {"kind": "hrnn", "attention": True, "cross_entropy": True},
    "dual_loss": {"kind": "hrnn", "attention": False, "cross_entropy": True},
    "cos_only": {"kind": "hrnn", "attention": True, "cross_entropy": False},
    "stacked_lstm": {"kind": "stacked", "attention": False, "cross_entropy": True},
    "single_lstm": {"kind": "single", "attention": False, "cross_entropy": True},
    "shuffled_labels": {"kind": "hrnn", "attention": True, "cross_entropy": True,
                        "shuffle_labels": True},
}
# Zero-shot protocols -> the unseen fraction of the classes: seen/unseen percentages drawn at
# random, or None for TruZe's fixed published split (Gowda et al., GCPR 2021), whose unseen
# classes have no counterpart among the Kinetics-400 classes.
TRUZE = "truze"
RATIOS = {"50_50": 0.5, "80_20": 0.2, "90_10": 0.1, TRUZE: None}

# The roles of the videos a split does not train on (see split_roles).
UNSEEN, VALIDATION, HELD_OUT = "unseen", "validation", "held_out"
# Random streams of a split beyond its unseen classes, so each draw has its own seed. Non-zero:
# numpy pads a seed list with zeros, so [s, r, k, 0] would repeat the draw of [s, r, k].
VALIDATION_STREAM, HELD_OUT_STREAM = 1, 2

TOP_K = 5
TOP5_UNDEFINED = ("top-5 is null where there are 5 or fewer candidate classes: the true class "
                  "is then always among the 5 nearest, so top-5 would be 1.0 for every method, "
                  "chance included")


def draw_splits(classes, videos, ratios, n_splits, seed, validation, held_out, dataset,
                exclude=(), marks=None):
    """{ratio: [split, ...], "all": [split]}: n_splits splits per ratio, each a dict of sorted
    lists {"seen": classes trained on, "validation": validation classes, "unseen": test classes,
    "held_out": ids of seen-class videos kept out of training (generalized zero-shot)}.

    ``videos`` is [(video_id, class), ...] of every video with features. Random ratios draw
    their unseen classes from (seed, seen percentage, index), and every other draw has its own
    seed too, so adding splits or ratios keeps the earlier ones; ``exclude`` (classes that a
    backbone's pretraining names) are never drawn as unseen. The truze ratio takes its unseen
    classes from the published list (see truze_split; ``exclude`` does not apply, TruZe already
    leaves Kinetics-400's classes out); its n_splits splits differ in their validation classes
    and held-out videos. Of the other classes, round(validation * their number) (at least 1
    when validation > 0) become validation classes, which are neither trained on nor tested as
    unseen; of each seen class's videos, round(held_out * their number) are held out (at least 1
    when held_out > 0 and the class has 2 videos or more, never all). "all" trains on every
    class (for the semantic evaluations).

    ``marks`` ({video_id: "train" or "test"}, a list dataset's split column) fixes the
    held-out videos of the seen classes: those marked test are held out, those marked train
    are trained on, and only the unmarked ones are drawn as above; each split then records in
    "held_out_marked" how many of its held-out videos were marked. A class all of whose videos
    are marked test is an error: any class may be drawn as seen, and it would have nothing to
    train on."""
    classes = sorted(classes)
    by_class = videos_by_class(classes, videos)
    marks = marks or {}
    check_trainable(by_class, marks)
    excluded = set(exclude)
    unknown = sorted(excluded - set(classes))
    if unknown:
        raise Action2VecError(f"leakage.exclude: classes {unknown} are not among the "
                              f"{len(classes)} classes")
    splits = {}
    for ratio in ratios:
        fixed = truze_split(dataset, classes)[1] if RATIOS[ratio] is None else None
        splits[ratio] = [draw_split(classes, by_class, ratio, k, seed, validation, held_out,
                                    fixed, excluded, marks) for k in range(n_splits)]
    splits[ALL] = [{"seen": classes, "validation": [], "unseen": classes, "held_out": []}]
    return splits


def draw_split(classes, by_class, ratio, k, seed, validation, held_out, unseen, exclude,
               marks):
    """Split ``k`` of ``ratio`` (see draw_splits); ``unseen`` is None for a random ratio."""
    stream = [seed, ratio_stream(ratio), k]
    if unseen is None:
        try:
            unseen = split_classes(classes, RATIOS[ratio], stream, exclude)[1]
        except ValueError as exc:
            raise Action2VecError(f"zsl.ratios: ratio {ratio}: {exc}") from None
    rest = [c for c in classes if c not in unseen]
    validation_classes = draw_validation(rest, validation, stream + [VALIDATION_STREAM], ratio)
    seen = [c for c in rest if c not in validation_classes]
    held = [v for c in seen for v in held_out_videos(
        by_class[c], marks, held_out, stream + [HELD_OUT_STREAM, stable_int(c)])]
    split = {"seen": seen, "validation": validation_classes, "unseen": sorted(unseen),
             "held_out": sorted(held)}
    if marks:
        split["held_out_marked"] = sum(marks.get(v) == TEST for v in held)
    return split


def held_out_videos(videos, marks, held_out, seed):
    """A seen class's held-out video ids: those ``marks`` marks test, and draw_held_out's share
    of the unmarked ones (all of them without marks)."""
    unmarked = [v for v in videos if v not in marks]
    return [v for v in videos if marks.get(v) == TEST] + draw_held_out(unmarked, held_out, seed)


def check_trainable(by_class, marks):
    """An error naming a class all of whose videos ``marks`` marks test (see draw_splits)."""
    for name, videos in by_class.items():
        if videos and all(marks.get(v) == TEST for v in videos):
            raise Action2VecError(
                f"class {name!r}: all its {len(videos)} videos are marked test in the "
                "dataset's split column, so drawn as a seen class it would have none to train "
                "on; mark one train, or leave some unmarked (unseen classes are drawn at "
                "random, whatever their marks)")


def held_out_source(splits):
    """Where the held-out videos of ``splits`` ({ratio: [split, ...]}) came from: the split
    column's test marks ("split column"), draws of zsl.held_out ("zsl.held_out"), or both."""
    drawn = [split for ratio in splits.values() for split in ratio]
    marked = sum(split.get("held_out_marked", 0) for split in drawn)
    if not marked:
        return "zsl.held_out"
    if marked == sum(len(split["held_out"]) for split in drawn):
        return "split column"
    return "split column and zsl.held_out"


def ratio_stream(ratio):
    """The ratio's number in its splits' seeds: its seen percentage (80 for 80_20), 0 for truze."""
    return 0 if RATIOS[ratio] is None else int(ratio[:2])


def stable_int(text):
    """A 64-bit number from ``text``, the same in every run and on every machine (hash() is
    salted per process)."""
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def videos_by_class(classes, videos):
    """{class: sorted video ids}; a video of another class or a repeated id is an error."""
    by_class, ids = {c: [] for c in classes}, set()
    for video_id, label in videos:
        if label not in by_class:
            raise Action2VecError(f"video {video_id!r} has class {label!r}, which is not among "
                                  f"the {len(classes)} classes")
        if video_id in ids:
            raise Action2VecError(f"video {video_id!r} is listed twice")
        ids.add(video_id)
        by_class[label].append(video_id)
    return {c: sorted(v) for c, v in by_class.items()}


def draw_validation(classes, validation, seed, ratio):
    """round(validation * len(classes)) validation classes (at least 1 when validation > 0),
    leaving at least 2 classes to train on."""
    n = max(1, round(validation * len(classes))) if validation > 0 else 0
    if len(classes) - n < 2:
        raise Action2VecError(f"zsl.validation: {validation} of the {len(classes)} classes that "
                              f"ratio {ratio} does not test leaves {len(classes) - n} to train on; "
                              "at least 2 are needed")
    return sorted(np.random.default_rng(seed).choice(classes, n, replace=False).tolist())


def draw_held_out(videos, held_out, seed):
    """round(held_out * len(videos)) of one class's video ids, at least 1 when held_out > 0 and
    the class has 2 videos or more, never all of them (the class must still be trained on)."""
    n = min(max(1, round(held_out * len(videos))), len(videos) - 1) if held_out > 0 else 0
    if n <= 0:
        return []
    return sorted(np.random.default_rng(seed).choice(videos, n, replace=False).tolist())


def training_videos(split, videos):
    """Sorted ids of the videos ``split`` trains on: its seen classes' videos, less those held
    out. ``videos`` is [(video_id, class), ...]."""
    seen, held = set(split["seen"]), set(split["held_out"])
    return sorted(v for v, label in videos if label in seen and v not in held)


def split_roles(split, videos):
    """{video_id: role} of every video ``split`` does not train on, in id order: "unseen" (a test
    class), "validation" (a validation class) or "held_out" (a held-out seen-class video). In
    "all", which trains on every class, every video is "unseen"."""
    unseen, validation = set(split["unseen"]), set(split["validation"])
    held = set(split["held_out"])
    roles = {}
    for video_id, label in sorted(videos):
        if label in unseen:
            roles[video_id] = UNSEEN
        elif label in validation:
            roles[video_id] = VALIDATION
        elif video_id in held:
            roles[video_id] = HELD_OUT
    return roles


def truze_lists():
    """{dataset: {"seen": [...], "unseen": [...]}}: the packaged TruZe class lists."""
    lists = {}
    path = resources.files("action2vec") / "resources" / "truze_splits.csv"
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            lists.setdefault(row["dataset"], {"seen": [], "unseen": []})[row["role"]].append(
                row["class"])
    return lists


def truze_split(dataset, classes):
    """(seen, unseen): TruZe's published split (UCF101 67/34, HMDB51 29/22) of ``classes``.

    A subset of the dataset's classes (a trimmed layout) gets the split restricted to the
    classes present; a class that the list does not name is an error, and so is a dataset
    that TruZe does not cover."""
    lists = truze_lists()
    if dataset not in lists:
        raise Action2VecError(f"zsl.ratios: the truze split exists for {sorted(lists)} only, "
                              f"not for dataset {dataset!r}")
    listed = lists[dataset]
    unknown = sorted(set(classes) - set(listed["seen"]) - set(listed["unseen"]))
    if unknown:
        raise Action2VecError(f"zsl.ratios: truze: classes {unknown} are not in the TruZe list "
                              f"of {dataset}")
    present = set(classes)
    seen = sorted(c for c in listed["seen"] if c in present)
    unseen = sorted(c for c in listed["unseen"] if c in present)
    if not unseen or len(seen) < 2:
        raise Action2VecError(f"zsl.ratios: truze: the {len(classes)} classes hold {len(unseen)} "
                              f"of TruZe's unseen and {len(seen)} of its seen classes of "
                              f"{dataset}; at least 1 unseen and 2 seen are needed")
    return seen, unseen


def read_splits(path, ratio):
    """The class splits of one ratio from the splits stage's file; a ratio not drawn is an
    error naming the ratios that were."""
    splits = json.loads(Path(path).read_text())
    if ratio not in splits:
        raise Action2VecError(f"ratio {ratio!r} is not in {path} (drawn: {list(splits)}; "
                              "see zsl.ratios)")
    return splits[ratio]


def split_classes(classes, unseen_fraction, seed, exclude=()):
    """(seen, unseen): a random split over classes, drawn from ``seed`` (an int or a list).
    round(unseen_fraction * all classes) are unseen, drawn from those not in ``exclude``."""
    classes = sorted(classes)
    rng = np.random.default_rng(seed)
    n_unseen = max(1, int(round(unseen_fraction * len(classes))))
    if n_unseen >= len(classes) - 1:
        raise ValueError(f"unseen fraction {unseen_fraction} of {len(classes)} classes leaves "
                         "fewer than 2 seen classes to train on")
    exclude = set(exclude)
    pool = [c for c in classes if c not in exclude]
    if n_unseen > len(pool):
        raise ValueError(f"{n_unseen} unseen classes are needed but leakage.exclude leaves only "
                         f"{len(pool)} of the {len(classes)} classes to draw them from")
    unseen = sorted(rng.choice(pool, n_unseen, replace=False).tolist())
    return [c for c in classes if c not in unseen], unseen


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


def single_class_warnings(splits):
    """One warning per ratio whose splits hold out a single class ({ratio: [split, ...]}, each
    with its "unseen" classes): every test video then gets that class, so its top-1 is 1.0 by
    construction and says nothing."""
    warnings = []
    for ratio, drawn in splits.items():
        single = sum(len(split["unseen"]) == 1 for split in drawn)
        if single and ratio != ALL:  # "all" trains on every class; nothing is held out
            warnings.append(f"ratio {ratio}: {single} of {len(drawn)} splits hold out a single "
                            "class, whose top-1 is 1.0 by construction; use more classes or a "
                            "larger unseen fraction")
    return warnings


def confusion(targets, predictions, n_classes):
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(targets, dtype=int), np.asarray(predictions, dtype=int)), 1)
    return out
