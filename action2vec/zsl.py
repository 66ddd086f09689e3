"""The zero-shot protocol (section 4.1, Table 1): the trained variants, the seen/unseen class
ratios, drawing the class splits, and ranking classes for a video by the cosine similarity of
its embedding to their word vectors."""

import json
from pathlib import Path

import numpy as np

from action2vec import Action2VecError
from action2vec.paths import ALL

# Table 1's trained variants: model kind, attention, and whether the cross-entropy term is on.
# (`cos_only` keeps attention: it differs from the full model by the loss alone.)
VARIANTS = {
    "action2vec": {"kind": "hrnn", "attention": True, "cross_entropy": True},
    "dual_loss": {"kind": "hrnn", "attention": False, "cross_entropy": True},
    "cos_only": {"kind": "hrnn", "attention": True, "cross_entropy": False},
    "stacked_lstm": {"kind": "stacked", "attention": False, "cross_entropy": True},
    "single_lstm": {"kind": "single", "attention": False, "cross_entropy": True},
}
# Zero-shot protocols: seen/unseen percentages of the classes -> the unseen fraction.
RATIOS = {"50_50": 0.5, "80_20": 0.2, "90_10": 0.1}


def draw_splits(classes, ratios, n_splits, seed):
    """{ratio: [{"seen": [...], "unseen": [...]}, ...]}: n_splits random class splits per ratio,
    each drawn from (seed, ratio, index) so adding splits or ratios keeps the earlier ones;
    plus "all": one split that trains on every class (for the semantic evaluations)."""
    splits = {}
    for ratio in ratios:
        splits[ratio] = []
        for k in range(n_splits):
            seen, unseen = split_classes(classes, RATIOS[ratio], [seed, int(ratio[:2]), k])
            splits[ratio].append({"seen": seen, "unseen": unseen})
    splits[ALL] = [{"seen": sorted(classes), "unseen": sorted(classes)}]
    return splits


def read_splits(path, ratio):
    """The class splits of one ratio from the splits stage's file; a ratio not drawn is an
    error naming the ratios that were."""
    splits = json.loads(Path(path).read_text())
    if ratio not in splits:
        raise Action2VecError(f"ratio {ratio!r} is not in {path} (drawn: {list(splits)}; "
                              "see zsl.ratios)")
    return splits[ratio]


def split_classes(classes, unseen_fraction, seed):
    """(seen, unseen): a random split over classes, drawn from ``seed`` (an int or a list)."""
    classes = sorted(classes)
    rng = np.random.default_rng(seed)
    n_unseen = max(1, int(round(unseen_fraction * len(classes))))
    if n_unseen >= len(classes) - 1:
        raise ValueError(f"unseen fraction {unseen_fraction} of {len(classes)} classes leaves "
                         "fewer than 2 seen classes to train on")
    unseen = sorted(rng.choice(classes, n_unseen, replace=False).tolist())
    return [c for c in classes if c not in unseen], unseen


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def rank_classes(embeddings, class_vectors):
    """Class indices ordered by cosine similarity, most similar first: (N, n_classes)."""
    sims = normalise(embeddings) @ normalise(class_vectors).T
    return np.argsort(-sims, axis=1, kind="stable")


def top_k_accuracy(embeddings, targets, class_vectors, k):
    """Fraction of videos whose true class is among the k nearest class vectors."""
    ranks = rank_classes(embeddings, class_vectors)[:, :k]
    return float(np.mean((ranks == np.asarray(targets)[:, None]).any(1)))


def zero_shot_report(embeddings, targets, class_vectors):
    """top-1 and top-5 (capped at the number of classes) accuracy."""
    hits = rank_classes(embeddings, class_vectors) == np.asarray(targets)[:, None]
    k5 = min(5, len(class_vectors))
    return {"top1": float(hits[:, 0].mean()), "top5": float(hits[:, :k5].any(1).mean())}


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
