"""Drawing the zero-shot class splits (section 4.1): seen/unseen classes per ratio (TruZe's
published split included), validation classes and held-out seen-class videos, and reading them
back. The names they use are in protocol.py; scoring a split is scoring.py's."""

import hashlib
import json
from pathlib import Path

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import TEST
from action2vec.paths import ALL
from action2vec.protocol import HELD_OUT, RATIOS, UNSEEN, VALIDATION
from action2vec.truze import truze_lists

# Random streams of a split beyond its unseen classes, so each draw has its own seed. Non-zero:
# numpy pads a seed list with zeros, so [s, r, k, 0] would repeat the draw of [s, r, k].
VALIDATION_STREAM, HELD_OUT_STREAM = 1, 2


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


def all_splits(path):
    """{ratio: [split, ...]}: every ratio's class splits from the splits stage's file."""
    return json.loads(Path(path).read_text())


def read_splits(path, ratio):
    """The class splits of one ratio from the splits stage's file; a ratio not drawn is an
    error naming the ratios that were."""
    splits = all_splits(path)
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
