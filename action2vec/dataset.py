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


def read_lines(path):
    """(line number, stripped line) of a dataset's list file, blank lines skipped."""
    if not Path(path).is_file():
        raise Action2VecError(f"dataset.root: {path} not found (the dataset's own split files)")
    with open(path) as f:
        return [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]


def list_ucf101(root):
    """UCF101 as published: UCF-101/<Class>/v_<Class>_gXX_cYY.avi, with ucfTrainTestlist/
    (classInd.txt, trainlist0{1,2,3}.txt, testlist0{1,2,3}.txt). Every video named in the lists;
    a listed file that is missing is left to the decode stage to report."""
    root, lists = Path(root), Path(root) / "ucfTrainTestlist"
    index = {}
    for n, line in read_lines(lists / "classInd.txt"):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise Action2VecError(f"{lists / 'classInd.txt'}:{n}: malformed line {line!r}")
        index[parts[1]] = int(parts[0])
    videos = {}
    names = [f"{kind}list0{k}.txt" for kind in ("train", "test") for k in (1, 2, 3)]
    for name in names:
        for n, line in read_lines(lists / name):
            parts = line.split()
            where = f"{lists / name}:{n}"
            if len(parts) not in (1, 2) or parts[0].count("/") != 1:
                raise Action2VecError(f"{where}: malformed line {line!r}")
            label = parts[0].split("/")[0]
            if label not in index:
                raise Action2VecError(f"{where}: class {label!r} is not in classInd.txt")
            if len(parts) == 2 and parts[1] != str(index[label]):
                raise Action2VecError(f"{where}: label {parts[1]} but classInd.txt gives "
                                      f"{label} the number {index[label]}")
            videos[parts[0]] = label
    return [{"id": video_id(root, root / "UCF-101" / rel), "path": str(root / "UCF-101" / rel),
             "class": label} for rel, label in videos.items()]


HMDB_TAGS = {"0", "1", "2"}  # not in this split, training, testing


def list_hmdb51(root):
    """HMDB51 as published: <class>/<video>.avi, with testTrainMulti_7030_splits/
    <class>_test_split{1,2,3}.txt ("<video>.avi <tag>"). Every video named in split 1's files
    (they list each video of the class once, whatever its tag)."""
    root, lists = Path(root), Path(root) / "testTrainMulti_7030_splits"
    files = sorted(lists.glob("*_test_split1.txt"))
    if not files:
        raise Action2VecError(f"dataset.root: no {lists}/*_test_split1.txt (HMDB51 split files)")
    videos = []
    for path in files:
        label = path.name[: -len("_test_split1.txt")]
        for n, line in read_lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in HMDB_TAGS or "/" in parts[0]:
                raise Action2VecError(f"{path}:{n}: malformed line {line!r}")
            videos.append({"id": video_id(root, root / label / parts[0]),
                           "path": str(root / label / parts[0]), "class": label})
    return videos


DATASETS = {"embedded": list_embedded, "ucf101": list_ucf101, "hmdb51": list_hmdb51}


def list_videos(name, root):
    """Every video of a dataset, as dicts with ``id``, ``path`` and ``class``, sorted by id."""
    if name not in DATASETS:
        raise Action2VecError(f"dataset.name: unknown dataset {name!r}; known: {sorted(DATASETS)}")
    if not Path(root).is_dir():
        raise Action2VecError(f"dataset.root: {root} is not a directory")
    return sorted(DATASETS[name](root), key=lambda v: v["id"])
