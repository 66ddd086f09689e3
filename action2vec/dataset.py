"""Datasets as lists of videos: each a (path, class name) pair and an id unique in the dataset."""

import csv
from pathlib import Path

from action2vec import Action2VecError


def video_id(root, path):
    """A stable id: the path relative to the dataset root, without its extension."""
    return Path(path).relative_to(root).with_suffix("").as_posix()


def list_embedded(root):
    """The rendered dataset: ``index.csv`` (path,class) beside the videos."""
    index = Path(root) / "index.csv"
    if not index.is_file():
        raise Action2VecError(f"dataset.root: {index} not found (the render stage writes it)")
    with open(index, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows or not {"path", "class"} <= set(rows[0]):
        raise Action2VecError(f"{index}: expected a header 'path,class' and at least one row")
    return [{"id": video_id(root, Path(root) / r["path"]), "path": str(Path(root) / r["path"]),
             "class": r["class"]} for r in rows]


DATASETS = {"embedded": list_embedded}


def list_videos(name, root):
    """Every video of a dataset, as dicts with ``id``, ``path`` and ``class``, sorted by id."""
    if name not in DATASETS:
        raise Action2VecError(f"dataset.name: unknown dataset {name!r}; known: {sorted(DATASETS)}")
    if not Path(root).is_dir():
        raise Action2VecError(f"dataset.root: {root} is not a directory")
    return sorted(DATASETS[name](root), key=lambda v: v["id"])
