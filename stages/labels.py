"""Stage labels: every class name as a word vector (params: labels). Runs before extraction so a
class word missing from the vectors stops the pipeline before any long work."""

import logging

import pandas as pd

from action2vec import params
from action2vec.labels import (class_vectors, class_words, load_vectors, read_name_map,
                               write_classes)
from action2vec.paths import CLASSES, DECODED
from action2vec.stage import run

log = logging.getLogger("labels")


def main():
    p = params.load("labels")
    cfg = p["labels"]
    table = pd.read_csv(DECODED)
    classes = sorted(table[table.status == "ok"]["class"].unique())
    vectors = load_vectors(cfg["vectors"])
    name_map = read_name_map(cfg["name_map"], dataset=p["dataset"]["name"])
    matrix = class_vectors(classes, vectors, name_map)
    write_classes(CLASSES, cfg["vectors"], classes, [class_words(c, name_map) for c in classes],
                  matrix)
    log.info("%d classes as %d-d word vectors (%s)", len(classes), matrix.shape[1], cfg["vectors"])


if __name__ == "__main__":
    run(main)
