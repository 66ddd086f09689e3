"""Stage splits: the zero-shot class splits, drawn once from the seed and saved so that anyone can
rerun the same ones (params: seed, zsl.ratios, zsl.n_splits)."""

import json
import logging

from action2vec import Action2VecError, params
from action2vec.labels import read_classes
from action2vec.paths import CLASSES, SPLITS
from action2vec.stage import run
from action2vec.zsl import draw_splits, single_class_warnings

log = logging.getLogger("splits")


def main():
    p = params.load("splits")
    cfg = p["zsl"]
    classes = read_classes(CLASSES).names
    try:
        splits = draw_splits(classes, cfg["ratios"], cfg["n_splits"], p["seed"])
    except ValueError as exc:
        raise Action2VecError(f"zsl.ratios: {exc}")
    SPLITS.write_text(json.dumps(splits, indent=1))
    log.info("%d splits for each of %s over %d classes", cfg["n_splits"], cfg["ratios"],
             len(classes))
    for warning in single_class_warnings(splits):
        log.warning("%s", warning)


if __name__ == "__main__":
    run(main)
