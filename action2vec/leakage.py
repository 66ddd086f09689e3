"""Backbone label leakage: which classes of a dataset the backbone's pretraining classes already
name. A pretrained backbone has been trained with labels on its pretraining classes, so a
zero-shot "unseen" class that one of them names is not unseen for the features.

For UCF101 and HMDB51 against Kinetics-400 the flags come from a reviewed table
(resources/kinetics400_overlap.csv): for every class, the Kinetics-400 classes that show the same
action, or none, each decision with its reason, made by reading the classes' definitions.
For any other classes (a user's own, the rendered ones) each class is given its nearest
pretraining class by cosine of the class names' vectors (the same label space and name -> words
rules as the dataset's classes, see labels.py) and is flagged when that cosine is at least a
threshold (params ``leakage.threshold``). ``calibrate_threshold`` chooses the threshold on the
TruZe splits, whose unseen classes were picked to have no Kinetics-400 counterpart;
``out_of_sample`` measures the automatic flags against the reviewed table on a dataset they were
not tuned on. The report file the stage writes is leakage_report.py's.
"""

import csv
from importlib import resources

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import packaged_classes
from action2vec.labels import class_vectors, read_name_map
from action2vec.scoring import cosines, rank_classes
from action2vec.truze import truze_lists

# The packaged class list (a dataset of class_names.csv) each backbone was pretrained on.
PRETRAINING = {"i3d": "kinetics400"}
# The datasets of the label-only tables and of the calibration: those the TruZe splits cover.
LABEL_ONLY = ("ucf101", "hmdb51")
DECIMALS = 6  # cosines are stored, and flagged, at this precision
REVIEWED = "kinetics400_overlap.csv"  # the reviewed table, in the package's resources
EXACT = 1 - 10 ** -DECIMALS  # a cosine this high: the two names have the same words


def pretraining(backbone, weights):
    """(packaged dataset of the backbone's pretraining classes or None, reason or None): the
    reason says why there is no list, or what the list assumes."""
    if backbone == "c3d":
        if not weights:
            return None, ("features.weights is null: C3D is randomly initialised, not "
                          "pretrained, so its features have seen no class labels")
        return None, ("C3D's pretraining classes (Sports-1M) are not available offline, so "
                      "no class can be checked against them")
    if backbone not in PRETRAINING:
        return None, f"no pretraining class list is known for the backbone {backbone!r}"
    if weights:
        return PRETRAINING[backbone], (f"features.weights is {weights}: its classes are taken "
                                       f"to be {PRETRAINING[backbone]}'s, like the packaged "
                                       "checkpoint's")
    return PRETRAINING[backbone], None


def name_map_of(dataset, name_map=None):
    """The name -> words map for a packaged dataset's classes: the packaged map, with the rows
    of the user's map (params ``labels.name_map``) that apply to ``dataset`` taking precedence."""
    merged = read_name_map(dataset=dataset)
    if name_map:
        merged.update(read_name_map(name_map, dataset=dataset))
    return merged


def packaged_vectors(dataset, space, name_map=None):
    """(class names, (n, dim) float64 vectors in a label space (vectors.py)) of a packaged
    dataset's published list."""
    names = packaged_classes(dataset)
    return names, class_vectors(names, space, name_map_of(dataset, name_map)).astype(
        np.float64)


def nearest(matrix, others):
    """(index of the nearest row of ``others`` by cosine, that cosine rounded to DECIMALS) for
    each row of ``matrix``; the first of tied rows."""
    cosine = cosines(matrix, others)
    index = rank_classes(matrix, others)[:, 0]
    return index, np.round(cosine[np.arange(len(index)), index], DECIMALS)


def leakage_classes(names, matrix, others_names, others, threshold):
    """{name: {"nearest", "cosine", "flagged"}}: each class's nearest class of ``others`` and
    whether their cosine is at least ``threshold``."""
    index, cosine = nearest(matrix, others)
    return {name: {"nearest": others_names[j], "cosine": float(c), "flagged": bool(c >= threshold)}
            for name, j, c in zip(names, index, cosine)}


def truze_unseen(dataset):
    """The classes of ``dataset`` (ucf101 or hmdb51) that the packaged TruZe splits hold out as
    unseen: chosen to have no Kinetics-400 counterpart."""
    lists = truze_lists()
    if dataset not in lists:
        raise Action2VecError(f"the TruZe splits cover {sorted(lists)} only, not {dataset!r}")
    return set(lists[dataset]["unseen"])


def balanced_accuracy(cosines, unseen, threshold):
    """The mean of the share of non-``unseen`` classes flagged (cosine >= threshold) and the
    share of ``unseen`` classes (those with no pretraining counterpart) left unflagged."""
    cosines, unseen = np.asarray(cosines), np.asarray(unseen, dtype=bool)
    flagged = cosines >= threshold
    return float((flagged[~unseen].mean() + (~flagged[unseen]).mean()) / 2)


def calibrate_threshold(cosines, unseen, decimals=2):
    """The threshold, on a grid of ``decimals`` decimals in [-1, 1], that best separates the
    ``unseen`` classes from the others by balanced accuracy; the lowest of tied thresholds
    (it flags the most classes). Returns (threshold, balanced accuracy)."""
    steps = 10 ** decimals
    grid = [round(k / steps, decimals) for k in range(-steps, steps + 1)]
    scores = [balanced_accuracy(cosines, unseen, t) for t in grid]
    best = int(np.argmax(scores))
    return grid[best], scores[best]


def reviewed_overlap():
    """{dataset: {class: [the Kinetics-400 classes that show the same action]}} of the reviewed
    table (an empty list: none does)."""
    path = resources.files("action2vec") / "resources" / REVIEWED
    table = {}
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            table.setdefault(row["dataset"], {})[row["class"]] = [
                n for n in row["kinetics400"].split("|") if n]
    return table


def reviewed_flags(dataset, pretraining_dataset, names):
    """{class: [counterparts]} of ``names`` where the reviewed table covers ``dataset`` against
    ``pretraining_dataset``, else None; a class the table does not list is an error."""
    table = reviewed_overlap().get(dataset) if pretraining_dataset == "kinetics400" else None
    if table is None:
        return None
    unknown = sorted(set(names) - set(table))
    if unknown:
        raise Action2VecError(f"{REVIEWED}: classes {unknown[:5]} of {dataset} are not in the "
                              "reviewed table")
    return {name: table[name] for name in names}


def out_of_sample(tables, decimals=2):
    """The automatic flags against the reviewed table, tuned on one LABEL_ONLY dataset and
    measured on the other: per (tuned on, tested on), the threshold calibrated on the first
    (balanced accuracy against the reviewed table), its balanced accuracy on the second, and
    that of exact word matches (cosine 1) on the second."""
    def sides(dataset):  # (cosines, whether the class has no reviewed counterpart)
        table = tables[dataset]
        return [r["cosine"] for r in table.values()], [not r["reviewed"] for r in table.values()]

    out = {}
    for tune in LABEL_ONLY:
        for test in LABEL_ONLY:
            if tune == test:
                continue
            threshold, tuned = calibrate_threshold(*sides(tune), decimals)
            out[f"{tune}->{test}"] = {
                "threshold": threshold, "balanced_accuracy_tuned_on": round(tuned, 4),
                "balanced_accuracy": round(balanced_accuracy(*sides(test), threshold), 4),
                "exact_match_balanced_accuracy": round(balanced_accuracy(*sides(test), EXACT), 4)}
    return out


def label_only(space, threshold, name_map=None, pretraining_dataset="kinetics400"):
    """{dataset: {name: {"nearest", "cosine", "flagged", "truze_unseen"}}} for the LABEL_ONLY
    datasets' published classes against a pretraining class list, from class names alone."""
    others_names, others = packaged_vectors(pretraining_dataset, space, name_map)
    tables = {}
    reviewed = reviewed_overlap()
    for dataset in LABEL_ONLY:
        names, matrix = packaged_vectors(dataset, space, name_map)
        unseen = truze_unseen(dataset)
        table = leakage_classes(names, matrix, others_names, others, threshold)
        tables[dataset] = {name: {**row, "truze_unseen": name in unseen,
                                  "reviewed": reviewed[dataset][name]}
                           for name, row in table.items()}
    return tables


def calibrate_on_truze(tables, decimals=2):
    """``calibrate_threshold`` over every class of the label-only ``tables``."""
    rows = [row for table in tables.values() for row in table.values()]
    return calibrate_threshold([r["cosine"] for r in rows], [r["truze_unseen"] for r in rows],
                               decimals)


def label_only_summary(tables):
    """Per dataset of the label-only ``tables``: classes, flagged classes, and the confusion
    counts of the flags against TruZe's unseen classes (those with no counterpart)."""
    summary = {}
    for dataset, table in tables.items():
        flagged = {n for n, r in table.items() if r["flagged"]}
        unseen = {n for n, r in table.items() if r["truze_unseen"]}
        summary[dataset] = {
            "n_classes": len(table), "n_flagged": len(flagged), "n_truze_unseen": len(unseen),
            "truze_unseen_flagged": len(unseen & flagged),
            "truze_unseen_unflagged": len(unseen - flagged),
            "truze_seen_flagged": len(flagged - unseen),
            "truze_seen_unflagged": len(set(table) - unseen - flagged),
            "n_reviewed_counterpart": sum(bool(r["reviewed"]) for r in table.values())}
    return summary
