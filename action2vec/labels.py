"""Class names as label vectors (section 3.2): names not in verb form are first mapped to words
that are (a CSV, kept as data), and the words are embedded as a phrase in the label space
(vectors.py: averaged word vectors, or a sentence model). With a sentence model, a CSV of class
descriptions may stand for the names.
"""

import csv
import io
import re
import json
from pathlib import Path
from typing import NamedTuple

import numpy as np

from action2vec import Action2VecError
from action2vec.dataset import name_map_rows, packaged_name_map
from action2vec.files import atomic, file_sha256, read_stage_json, read_text, size_text

MAPS_NOTHING = ("it would map no class name and replace the packaged map (leave "
                "labels.name_map empty for the packaged map)")
# classes.json of 10,000 classes with 1,024-d vectors: larger is refused before it is read.
CLASSES_LIMIT = 256 << 20


class ClassName(NamedTuple):
    """What a class name means in words: the words whose mean vector stands for it, its verb
    (base form, a WordNet verb) and, when the name is "verb + object", the object (else None)."""

    words: list
    verb: str
    noun: str | None


def read_csv(path, param):
    """The rows (lists of fields) of a user's CSV file, the value of params ``param``; a
    missing file, one that is not UTF-8 text, or a CSV that cannot be parsed is an
    Action2VecError naming the param, the file (and the line)."""
    reader = csv.reader(io.StringIO(read_text(path, f"{param}: {path}"), newline=""))
    try:
        return list(reader)
    except csv.Error as exc:
        raise Action2VecError(f"{param}: {path}:{reader.line_num}: not a CSV row ({exc})") from None


def read_name_map(path=None, dataset=None):
    """{class name (lower case): ClassName} from a CSV with the columns ``name,words`` and
    optionally ``verb``, ``noun`` (default: the first word; none) and ``dataset`` (with
    ``dataset`` given, only that dataset's rows are read). A file without rows is refused: it
    would map nothing and replace the packaged map."""
    path = Path(path) if path else packaged_name_map()
    rows = read_csv(path, "labels.name_map")
    header = [cell.strip() for cell in rows[0]] if rows else []
    body = [(line, row) for line, row in enumerate(rows[1:], 2) if any(c.strip() for c in row)]
    if not body and not any(header):
        raise Action2VecError(f"labels.name_map: {path} is empty: {MAPS_NOTHING}")
    if not {"name", "words"} <= set(header):
        raise Action2VecError(f"labels.name_map: {path} needs the columns name,words")
    if not body:
        raise Action2VecError(f"labels.name_map: {path} has no rows: {MAPS_NOTHING}")
    out = {}
    for line, cells in body:
        row = dict(zip(header, cells))
        if dataset and row.get("dataset", dataset) != dataset:
            continue
        name, words = row.get("name", "").strip(), row.get("words", "").split()
        if not name:
            raise Action2VecError(f"labels.name_map: {path}:{line}: no name")
        if not words:
            raise Action2VecError(f"labels.name_map: {path}:{line}: no words for {name!r}")
        key = name.lower()
        entry = ClassName(words, (row.get("verb") or words[0]).strip(),
                          (row.get("noun") or "").strip() or None)
        if out.get(key, entry) != entry:
            raise Action2VecError(f"labels.name_map: {path}:{line}: {name!r} is mapped "
                                  "twice, differently (give the dataset)")
        out[key] = entry
    return out


def label_file_problems(p):
    """What is wrong, as [one line], with the name map and the descriptions file that a params
    tree names (missing, not UTF-8 text, not a map or descriptions CSV), else []: the params
    check's call. The name map's rows are read for the dataset, as the labels stage reads them;
    whether every class has a description is the labels stage's check."""
    labels = p["labels"]
    try:
        if labels["name_map"]:
            read_name_map(labels["name_map"], dataset=name_map_rows(p["dataset"]["name"]))
        if labels["descriptions"]:
            description_rows(labels["descriptions"])
    except Action2VecError as exc:
        return [str(exc)]
    return []


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


def description_rows(path):
    """{class name (lower case): (line, description)} of a descriptions CSV (see
    read_descriptions); a bad header or row, or a class described twice, is an error naming the
    file and the line."""
    rows = read_csv(path, "labels.descriptions")
    header = [cell.strip() for cell in rows[0]] if rows else []
    if header != ["class", "description"]:
        raise Action2VecError(f"labels.descriptions: {path}:1: the header must be "
                              f"class,description (got {','.join(header) or 'nothing'})")
    found = {}  # lower-case name -> (line, description)
    for line, row in enumerate(rows[1:], 2):
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
    return found


def read_descriptions(path, classes):
    """{class: description} for each of ``classes`` from a CSV with the header
    ``class,description`` (params ``labels.descriptions``). Names match as the name map's do
    (case aside); rows for other classes are allowed. A missing file, a bad header or row, a
    class described twice or a class of ``classes`` without a description is an error naming
    the file (and the line)."""
    path = Path(path)
    found = description_rows(path)
    missing = [c for c in classes if c.strip().lower() not in found]
    if missing:
        raise Action2VecError(f"labels.descriptions: {path}: no description for "
                              f"{len(missing)} class(es) of the dataset: "
                              f"{', '.join(map(repr, missing[:5]))}"
                              f"{', ...' if len(missing) > 5 else ''}")
    return {c: found[c.strip().lower()][1] for c in classes}


def shared_texts(names, texts, ignore_order=False):
    """[(names, text)]: each group of two or more ``names`` whose label ``texts`` are the same,
    case and spacing aside (with ``ignore_order``, word order aside too: a mean of word vectors
    ignores it). Such names get one label vector, so a ranking cannot tell them apart."""
    groups = {}
    for name, text in zip(names, texts):
        words = text.lower().split()
        key = " ".join(sorted(words) if ignore_order else words)
        groups.setdefault(key, ([], text))[0].append(name)
    return [(group, text) for group, text in groups.values() if len(group) > 1]


def listed(names, most=5):
    """Names for a message: "'a', 'b' and 'c'", the first ``most`` of a longer list and how many
    more."""
    quoted = [repr(n) for n in names[:most]]
    if len(names) > most:
        return f"{', '.join(quoted)} and {len(names) - most} more"
    return quoted[0] if len(quoted) == 1 else f"{', '.join(quoted[:-1])} and {quoted[-1]}"


def check_distinct(names, texts, what, fix, ignore_order=False):
    """Refuse names that share a label text (see shared_texts) with a one-line error: ``what``
    starts it (the file or option they came from), ``fix`` ends it."""
    shared = shared_texts(names, texts, ignore_order)
    if shared:
        group, text = shared[0]
        more = f" ({len(shared) - 1} more such groups)" if len(shared) > 1 else ""
        raise Action2VecError(f"{what}: classes {listed(group)} have the same label text "
                              f"{text!r}, so they would share one label vector{more}; {fix}")


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
    text = json.dumps({
        "vectors": spec, "dim": int(matrix.shape[1]), "descriptions": descriptions,
        "classes": [{"name": n, "words": list(w), "text": t, "vector": v.tolist()}
                    for n, w, t, v in zip(names, words, texts, matrix)]}, indent=1)
    if len(text) > CLASSES_LIMIT:  # read_classes would refuse it (the JSON is ASCII)
        raise Action2VecError(f"{path}: {len(names)} classes of {matrix.shape[1]}-d label "
                              f"vectors make {size_text(len(text))}, more than a classes file "
                              f"can be ({size_text(CLASSES_LIMIT)})")
    with atomic(path) as tmp:
        tmp.write_text(text)


def descriptions_record(path):
    """What classes.json records of a descriptions file: its path and checksum."""
    return {"file": str(path), "sha256": file_sha256(path)}


def read_classes(path):
    """The Classes of a classes.json written by ``write_classes``; a missing or malformed file
    is an Action2VecError naming it and what is wrong."""
    data, bad = read_stage_json(path, "a classes file of the labels stage", "labels",
                                CLASSES_LIMIT)
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
                or not all(isinstance(x, (int, float)) and not isinstance(x, bool)
                           for x in vector)):
            raise bad(f"class {name!r}: 'vector' is not a list of {dim} numbers")
        array = finite_vector(vector)
        if array is None:
            raise bad(f"class {name!r}: 'vector' has values that are not finite")
        if not isinstance(entry_words, list) or not all(isinstance(w, str) for w in entry_words):
            raise bad(f"class {name!r}: 'words' is not a list of words")
        if not isinstance(entry.get("text"), str):
            raise bad(f"class {name!r}: no string 'text'")
        names.append(name)
        vectors[name] = array
        words[name] = entry_words
        texts[name] = entry["text"]
    return Classes(names, vectors, words, dim, data["vectors"], texts, descriptions)


def finite_vector(values):
    """A list of numbers as a float64 vector, or None when one is not finite (or too large
    for a float, as JSON's integers may be)."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except OverflowError:
        return None
    return array if np.isfinite(array).all() else None


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
