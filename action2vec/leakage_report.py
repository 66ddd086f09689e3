"""The leakage stage's report file (data/leakage.json): which of the dataset's classes the
backbone's pretraining classes name. Its own module so that the stages that only read it
(splits, evaluate) do not run the code that computes it (leakage.py).
"""

import json
from pathlib import Path
from typing import NamedTuple

from action2vec.files import atomic, read_stage_json


class Leakage(NamedTuple):
    """The leakage stage's report on the dataset's classes."""

    backbone: str
    pretraining: str | None  # the packaged dataset of the pretraining classes; None: no list
    reason: str | None  # why there is no list, or what it assumes
    threshold: float
    classes: dict  # name -> {"nearest", "cosine", "flagged"}; empty without a list
    flagged: list  # the flagged class names, sorted
    available: bool  # whether there was a pretraining class list to check against
    flagged_by: str | None  # "reviewed table" or "label vectors" (None without a list)


def write_leakage(path, backbone, pretraining_dataset, reason, threshold, classes,
                  label_only_tables=None, flagged_by=None):
    """Write the report as JSON, atomically; ``label_only_tables`` (``label_only``'s) go beside
    the dataset's classes, under "label_only"; ``flagged_by`` says where the flags came from."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        tmp.write_text(json.dumps({"backbone": backbone, "pretraining": pretraining_dataset,
                                   "reason": reason, "threshold": threshold,
                                   "flagged_by": flagged_by, "classes": classes,
                                   "label_only": label_only_tables or {}}, indent=1))


def read_leakage(path):
    """The Leakage of a file written by ``write_leakage``; a missing or malformed file is an
    Action2VecError naming it and what is wrong."""
    data, bad = read_stage_json(path, "a leakage report of the leakage stage", "leakage")
    if not isinstance(data, dict):
        raise bad("not a JSON object")
    if not isinstance(data.get("backbone"), str):
        raise bad("no string 'backbone'")
    for key in ("pretraining", "reason"):
        if key not in data or not isinstance(data[key], (str, type(None))):
            raise bad(f"'{key}' is neither a string nor null")
    threshold = data.get("threshold")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)):
        raise bad("no number 'threshold'")
    classes = data.get("classes")
    if not isinstance(classes, dict):
        raise bad("no object 'classes'")
    if data["pretraining"] is None and classes:
        raise bad("'classes' without a 'pretraining' class list")
    for name, entry in classes.items():
        if (not isinstance(entry, dict) or not isinstance(entry.get("nearest"), str)
                or isinstance(entry.get("cosine"), bool)
                or not isinstance(entry.get("cosine"), (int, float))
                or not isinstance(entry.get("flagged"), bool)):
            raise bad(f"class {name!r} needs a string 'nearest', a number 'cosine' and a "
                      "true/false 'flagged'")
    flagged_by = data.get("flagged_by")
    if flagged_by not in (None, "reviewed table", "label vectors"):
        raise bad("'flagged_by' is neither 'reviewed table', 'label vectors' nor null")
    return Leakage(data["backbone"], data["pretraining"], data["reason"], float(threshold),
                   classes, sorted(n for n, e in classes.items() if e["flagged"]),
                   data["pretraining"] is not None, flagged_by)
