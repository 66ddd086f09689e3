"""TruZe's published class lists (Gowda et al., GCPR 2021): for UCF101 and HMDB51, the classes
that have no counterpart among the Kinetics-400 classes (unseen) and the rest (seen).

Its own module so that the stages reading the lists (leakage, splits) depend on this file and
not on the code that lists a dataset's videos.
"""

import csv
from importlib import resources


def truze_lists():
    """{dataset: {"seen": [...], "unseen": [...]}}: the packaged TruZe class lists."""
    lists = {}
    path = resources.files("action2vec") / "resources" / "truze_splits.csv"
    with path.open(newline="") as f:
        for row in csv.DictReader(f):
            lists.setdefault(row["dataset"], {"seen": [], "unseen": []})[row["role"]].append(
                row["class"])
    return lists


