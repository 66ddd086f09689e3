"""Stage splits: the zero-shot class splits, drawn once from the seed and saved so that anyone can
rerun the same ones (params: seed, dataset.name, zsl, leakage.exclude).

Each split of a ratio holds its seen classes (trained on), validation classes (set aside from
the seen ones: every choice is made on them), unseen classes (the test) and the held-out videos
of the seen classes (generalized zero-shot). Ratio "truze" is the published TruZe split of
UCF101 and HMDB51. With ``leakage.exclude``, classes that the backbone's pretraining classes name
(data/leakage.json) are never drawn as unseen. A list dataset's split column (carried by
data/decode/videos.csv) fixes the held-out videos of the seen classes: those marked test.
"""

import json
import logging

from action2vec import params
from action2vec.dataset import TEST, TRAIN, read_split_column
from action2vec.labels import read_classes
from action2vec.leakage_report import read_leakage
from action2vec.paths import CLASSES, DECODED, FEATURES, LEAKAGE, SPLITS
from action2vec.shards import video_index
from action2vec.stage import run
from action2vec.splits import draw_splits, single_class_warnings

log = logging.getLogger("splits")


def main():
    p = params.load("splits")
    cfg = p["zsl"]
    classes = read_classes(CLASSES).names
    videos = [(video, where.label) for video, where in video_index(FEATURES).items()]
    exclude = read_leakage(LEAKAGE).flagged if p["leakage"]["exclude"] else []
    ids = {video for video, _ in videos}
    marks = {v: mark for v, mark in read_split_column(DECODED).items() if v in ids}
    splits = draw_splits(classes, videos, cfg["ratios"], cfg["n_splits"], p["seed"],
                         cfg["validation"], cfg["held_out"], p["dataset"]["name"], exclude,
                         marks)
    SPLITS.write_text(json.dumps(splits, indent=1))
    log.info("%d splits for each of %s over %d classes and %d videos%s", cfg["n_splits"],
             cfg["ratios"], len(classes), len(videos),
             f", {len(exclude)} flagged classes never unseen" if exclude else "")
    if marks:
        log.info("split column: %d videos marked test (held out where their class is seen), "
                 "%d marked train, %d unmarked (held out as drawn by zsl.held_out)",
                 sum(m == TEST for m in marks.values()), sum(m == TRAIN for m in marks.values()),
                 len(videos) - len(marks))
    for warning in single_class_warnings(splits):
        log.warning("%s", warning)


if __name__ == "__main__":
    run(main)
