"""Stage labels: every class as a label vector (params: labels): its name's words embedded as a
phrase, or its description (labels.descriptions) with a sentence model. Runs before extraction
so a class word missing from the vectors, or a class without a description, stops the pipeline
before any long work."""

import logging

from action2vec import params
from action2vec.dataset import name_map_rows, read_table
from action2vec.labels import (check_distinct, class_vectors, class_words, descriptions_record,
                               read_descriptions, read_name_map, write_classes)
from action2vec.paths import CLASSES, DECODED
from action2vec.stage import run
from action2vec.vectors import load_space

log = logging.getLogger("labels")
DISTINCT_NAMES = ("distinct classes need distinct label texts: add a row to a name map "
                  "(labels.name_map, a CSV name,words) that gives one of them other words")


def main():
    p = params.load("labels")
    cfg = p["labels"]
    table = read_table(DECODED)
    classes = sorted(table[table.status == "ok"]["class"].unique())
    described = read_descriptions(cfg["descriptions"], classes) if cfg["descriptions"] else None
    space = load_space(cfg["vectors"])
    name_map = read_name_map(cfg["name_map"], dataset=name_map_rows(p["dataset"]["name"]))
    words = [class_words(c, name_map) for c in classes]
    if described:
        texts = [described[c] for c in classes]
        check_distinct(classes, texts, f"labels.descriptions: {cfg['descriptions']}",
                       "give each class its own description")
        matrix = space.texts(texts)
        record = descriptions_record(cfg["descriptions"])
    else:
        check_distinct(classes, [" ".join(w) for w in words], "labels", DISTINCT_NAMES,
                       space.ignores_word_order)
        texts, matrix, record = None, class_vectors(classes, space, name_map), None
    write_classes(CLASSES, cfg["vectors"], classes, words, matrix, texts, record)
    log.info("%d classes as %d-d vectors of their %s (%s)", len(classes), matrix.shape[1],
             "descriptions" if described else "names", cfg["vectors"])


if __name__ == "__main__":
    run(main)
