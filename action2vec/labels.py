"""Class names as label vectors (section 3.2): names not in verb form are first mapped to words
that are (a CSV, kept as data), and the words are embedded as a phrase in the label space
(vectors.py: averaged word vectors, or a sentence model). With a sentence model, a CSV of class
descriptions may stand for the names.
"""

import csv
import re
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import packaged_name_map
from action2vec.files import atomic, file_sha256, read_stage_json


class ClassName(NamedTuple):
    """What a class name means in words: the words whose mean vector stands for it, its verb
    (base form, a WordNet verb) and, when the name is "verb + object", the object (else None)."""

    words: list
    verb: str
    noun: str | None


def read_name_map(path=None, dataset=None):
    """{class name (lower case): ClassName} from a CSV with the columns ``name,words`` and
    optionally ``verb``, ``noun`` (default: the first word; none) and ``dataset`` (with
    ``dataset`` given, only that dataset's rows are read)."""
    path = Path(path) if path else packaged_name_map()
    if not Path(str(path)).is_file():
        raise Action2VecError(f"labels.name_map: {path} not found")
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    if rows and not {"name", "words"} <= set(rows[0]):
        raise Action2VecError(f"labels.name_map: {path} needs the columns name,words")
    out = {}
    for line, row in enumerate(rows, 2):
        if dataset and row.get("dataset", dataset) != dataset:
            continue
        words = (row["words"] or "").split()
        if not words:
            raise Action2VecError(f"labels.name_map: {path}:{line}: no words for {row['name']!r}")
        key = row["name"].strip().lower()
        entry = ClassName(words, (row.get("verb") or words[0]).strip(),
                          (row.get("noun") or "").strip() or None)
        if out.get(key, entry) != entry:
            raise Action2VecError(f"labels.name_map: {path}:{line}: {row['name']!r} is mapped "
                                  "twice, differently (give the dataset)")
        out[key] = entry
    return out


def split_name(name):
    """A class name split at spaces, underscores, hyphens and CamelCase humps
    ("ApplyEyeMakeup", "brush_hair"), lower case."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name.strip())
    return spaced.lower().replace("_", " ").replace("-", " ").split()


def class_name(name, name_map):
    """The name map's entry for a class, else the split name read as "verb [object]"."""
    entry = name_map.get(name.strip().lower())
    if entry is not None:
        return entry
    words = split_name(name)
    return ClassName(words, words[0] if words else "", " ".join(words[1:]) or None)


def class_words(name, name_map):
    """The words whose vectors stand for a class name."""
    return class_name(name, name_map).words


def read_descriptions(path, classes):
    """{class: description} for each of ``classes`` from a CSV with the header
    ``class,description`` (params ``labels.descriptions``). Names match as the name map's do
    (case aside); rows for other classes are allowed. A missing file, a bad header or row, a
    class described twice or a class of ``classes`` without a description is an error naming
    the file (and the line)."""
    path = Path(path)
    if not path.is_file():
        raise Action2VecError(f"labels.descriptions: {path} not found")
    found = {}  # lower-case name -> (line, description)
    with open(path, newline="") as f:
        rows = csv.reader(f)
        header = [cell.strip() for cell in next(rows, [])]
        if header != ["class", "description"]:
            raise Action2VecError(f"labels.descriptions: {path}:1: the header must be "
                                  f"class,description (got {','.join(header) or 'nothing'})")
        for line, row in enumerate(rows, 2):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != 2:
                raise Action2VecError(f"labels.descriptions: {path}:{line}: {len(row)} fields, "
                                      "not 2 (quote a description that holds a comma)")
            name, text = (cell.strip() for cell in row)
            if not name or not text:
                raise Action2VecError(f"labels.descriptions: {path}:{line}: empty "
                                      f"{'class' if not name else 'description'}")
            if name.lower() in found:
                raise Action2VecError(f"labels.descriptions: {path}:{line}: class {name!r} is "
                                      f"described twice (first on line {found[name.lower()][0]})")
            found[name.lower()] = line, text
    missing = [c for c in classes if c.strip().lower() not in found]
    if missing:
        raise Action2VecError(f"labels.descriptions: {path}: no description for "
                              f"{len(missing)} class(es) of the dataset: "
                              f"{', '.join(map(repr, missing[:5]))}"
                              f"{', ...' if len(missing) > 5 else ''}")
    return {c: found[c.strip().lower()][1] for c in classes}


class Classes(NamedTuple):
    """The labels stage's classes.json: every class name with its words, the text its vector
    embeds, and that vector."""

    names: list  # in the file's order
    vectors: dict  # name -> (dim,) label vector
    words: dict  # name -> the words of its name (the name map's)
    dim: int
    spec: str  # params labels.vectors: the label space the vectors came from
    texts: dict  # name -> what its vector embeds: its words as a phrase, or its description
    descriptions: dict | None  # {"file", "sha256"} of labels.descriptions; None: the names


def write_classes(path, spec, names, words, matrix, texts=None, descriptions=None):
    """Write classes.json atomically: the classes ``names`` in order, each with its ``words``
    (a list per class), the text its vector embeds (``texts``; default: the words as a
    phrase) and its row of ``matrix`` (n_classes, dim); the vectors' ``spec`` and the
    ``descriptions`` file ({"file", "sha256"}) when the texts are descriptions."""
    matrix = np.asarray(matrix)
    texts = texts or [" ".join(w) for w in words]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        tmp.write_text(json.dumps({
            "vectors": spec, "dim": int(matrix.shape[1]), "descriptions": descriptions,
            "classes": [{"name": n, "words": list(w), "text": t, "vector": v.tolist()}
                        for n, w, t, v in zip(names, words, texts, matrix)]}, indent=1))


def descriptions_record(path):
    """What classes.json records of a descriptions file: its path and checksum."""
    return {"file": str(path), "sha256": file_sha256(path)}


def read_classes(path):
    """The Classes of a classes.json written by ``write_classes``; a missing or malformed file
    is an Action2VecError naming it and what is wrong."""
    data, bad = read_stage_json(path, "a classes file of the labels stage", "labels")
    if not isinstance(data, dict) or not isinstance(data.get("classes"), list):
        raise bad("no list 'classes'")
    if not isinstance(data.get("vectors"), str):
        raise bad("no string 'vectors'")
    dim = data.get("dim")
    if not isinstance(dim, int) or isinstance(dim, bool) or dim < 1:
        raise bad("no positive integer 'dim'")
    descriptions = data.get("descriptions")
    if descriptions is not None and not (isinstance(descriptions, dict) and all(
            isinstance(descriptions.get(k), str) for k in ("file", "sha256"))):
        raise bad("'descriptions' is neither null nor a file and its sha256")
    if not data["classes"]:
        raise bad("no classes")
    names, vectors, words, texts = [], {}, {}, {}
    for i, entry in enumerate(data["classes"]):
        name = entry.get("name") if isinstance(entry, dict) else None
        if not isinstance(name, str):
            raise bad(f"class {i} has no 'name'")
        if name in vectors:
            raise bad(f"class {name!r} is listed twice")
        vector, entry_words = entry.get("vector"), entry.get("words")
        if (not isinstance(vector, list) or len(vector) != dim
                or not all(isinstance(x, (int, float)) for x in vector)):
            raise bad(f"class {name!r}: 'vector' is not a list of {dim} numbers")
        if not isinstance(entry_words, list) or not all(isinstance(w, str) for w in entry_words):
            raise bad(f"class {name!r}: 'words' is not a list of words")
        if not isinstance(entry.get("text"), str):
            raise bad(f"class {name!r}: no string 'text'")
        names.append(name)
        vectors[name] = np.asarray(vector, dtype=np.float64)
        words[name] = entry_words
        texts[name] = entry["text"]
    return Classes(names, vectors, words, dim, data["vectors"], texts, descriptions)


def class_vectors(classes, space, name_map):
    """(n_classes, dim) float32: each class's words embedded as a phrase in a label space
    (vectors.py); a word the space has no vector for is an error naming the class."""
    phrases = []
    for name in classes:
        words = class_words(name, name_map)
        missing = space.missing(words)
        if not words or missing:
            raise Action2VecError(f"class {name!r}: word {missing[0] if missing else name!r} is "
                                  "not in the word vectors; add a row to the name map "
                                  "(labels.name_map) that maps it to words that are")
        phrases.append(words)
    return np.asarray(space.phrases(phrases), dtype=np.float32)
