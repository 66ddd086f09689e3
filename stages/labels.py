"""Stage labels: every class name as a word vector (params: labels). Runs before extraction so a
class word missing from the vectors stops the pipeline before any long work."""

import json
import logging
from pathlib import Path

import pandas as pd

from action2vec import params
from action2vec.labels import class_vectors, class_words, load_vectors, read_name_map
from action2vec.stage import run

VIDEOS = Path("data/decode/videos.csv")
OUT = Path("data/labels/classes.json")
log = logging.getLogger("labels")


def main():
    p = params.load("dataset", "labels")
    cfg = p["labels"]
    table = pd.read_csv(VIDEOS)
    classes = sorted(table[table.status == "ok"]["class"].unique())
    vectors = load_vectors(cfg["vectors"])
    name_map = read_name_map(cfg["name_map"], dataset=p["dataset"]["name"])
    matrix = class_vectors(classes, vectors, name_map)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps({
        "vectors": cfg["vectors"], "dim": int(matrix.shape[1]),
        "classes": [{"name": c, "words": class_words(c, name_map), "vector": v.tolist()}
                    for c, v in zip(classes, matrix)]}, indent=1))
    log.info("%d classes as %d-d word vectors (%s)", len(classes), matrix.shape[1], cfg["vectors"])


if __name__ == "__main__":
    run(main)
