"""Datasets as lists of videos: each a (path, class name) pair and an id unique in the dataset."""

import csv
import errno
import io
import logging
import os
import stat
from importlib import resources
from pathlib import Path

from action2vec import Action2VecError
from action2vec.dataset_names import OWN_CLASSES, RENDERED, name_problem
from action2vec.files import read_text

log = logging.getLogger(__name__)


def video_id(root, path):
    """A video's id: its path relative to the dataset root, extension included (a/x.mp4 and
    a/x.avi are two videos); the absolute path of a file outside the root. Paths are normalised
    (``a/../a/x.mp4`` is ``a/x.mp4``) but symlinks are not followed, so one file has one id."""
    path, root = Path(os.path.abspath(path)), Path(os.path.abspath(root))
    return (path.relative_to(root) if path.is_relative_to(root) else path).as_posix()


def unique(videos):
    """Videos (dicts with ``id`` and ``where``, the list file and line that named them) without
    the keys ``where``; a video listed twice is an error naming both lines."""
    first = {}
    for video in videos:
        if video["id"] in first:
            raise Action2VecError(f"{video['where']}: {video['path']} is listed twice (also at "
                                  f"{first[video['id']]}); keep one line")
        first[video["id"]] = video.pop("where")
    return videos


INDEX = "index.csv"  # the rendered dataset's list, and the default of params dataset.list
TRAIN, TEST = "train", "test"  # the values of a list's optional split column
LIST_FORMAT = ("a CSV file with the header `path,class` and one row per video, paths relative "
               "to dataset.root or absolute; an optional column `split` marks a video train or "
               "test (or leaves it empty)")


def list_rendered(root):
    """The rendered dataset: the render stage's videos, listed in ``index.csv`` in the root."""
    return read_list(root, INDEX, "for the default rendered dataset, `dvc repro` renders it")


def list_listed(root, name=INDEX):
    """Videos listed in a CSV file ``name`` in the root (params ``dataset.list``)."""
    return read_list(root, name, "dataset.list names it, a file in dataset.root")


def read_list(root, name, hint):
    """The videos of the list file ``root/name`` (LIST_FORMAT; ``hint`` says where it comes
    from when it is missing). With a ``split`` column, each video has ``split``: "train",
    "test" or "" (unmarked). Errors name the file and line."""
    path = Path(root) / name
    if not path.is_file():
        raise Action2VecError(f"{path} not found; it must be {LIST_FORMAT} ({hint})")
    reader = csv.DictReader(io.StringIO(read_text(path, str(path)), newline=""))
    try:
        columns = set(reader.fieldnames or ())
        if not {"path", "class"} <= columns:
            raise Action2VecError(f"{path}: expected a header 'path,class' ({LIST_FORMAT})")
        videos = [list_row(root, row, f"{path}:{reader.line_num}", "split" in columns)
                  for row in reader]
    except csv.Error as exc:
        raise Action2VecError(f"{path}: cannot be read as a CSV file ({exc})") from None
    if not videos:
        raise Action2VecError(f"{path}: no videos listed ({LIST_FORMAT})")
    return unique(videos)


def list_row(root, row, where, has_split):
    """One video of a list file's ``row`` (a csv.DictReader row read at ``where``)."""
    if None in row or None in row.values():
        raise Action2VecError(f"{where}: malformed line (wrong number of fields)")
    for key in ("path", "class"):
        if not row[key].strip():
            raise Action2VecError(f"{where}: empty {key}")
    path = Path(root) / row["path"].strip()
    video = {"id": video_id(root, path), "path": str(path), "class": row["class"].strip(),
             "where": where}
    if has_split:
        video["split"] = row["split"].strip()
        if video["split"] not in ("", TRAIN, TEST):
            raise Action2VecError(f"{where}: split {row['split']!r} must be {TRAIN}, {TEST} "
                                  "or empty (unmarked)")
    return video


TEXT_COLUMNS = ("id", "path", "class", "split", "reason", "sha256")


def read_table(path):
    """The decode stage's videos.csv or rejected.csv as a DataFrame, ids, paths, classes, splits
    reasons and file hashes as text whatever they look like (a class folder "1" or "NA" stays a
    name, a hash of digits stays text)."""
    import pandas as pd

    return pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}, keep_default_na=False)


def read_split_column(path):
    """{video id: "train" or "test"} of the videos that a list dataset's split column marks,
    from the decode stage's table ``path``; {} when the dataset has no split column."""
    if not Path(path).is_file():
        raise Action2VecError(f"{path} not found; the decode stage writes it (dvc repro)")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "split" not in (reader.fieldnames or ()):
            return {}
        return {row["id"]: row["split"] for row in reader if row["split"]}


def read_folder(path):
    """The entries of a folder, sorted by name; a folder that cannot be read is an error
    naming it."""
    try:
        with os.scandir(path) as entries:
            return sorted(entries, key=lambda entry: entry.name)
    except OSError as exc:
        raise Action2VecError(f"{path}: cannot read the folder ({exc.strerror})") from None


def hidden(entry):
    """A hidden file or folder (.DS_Store, .git): never a video of a folder dataset."""
    return entry.name.startswith(".")


def folder_link(entry):
    """Whether a folder entry is a link to a folder (False for a dangling or looping link)."""
    return entry.is_symlink() and os.path.isdir(entry.path)


def files_below(folder):
    """(sorted paths of the files below ``folder`` at any depth, number of hidden entries
    skipped, sorted paths of the links to folders found). Links to folders are not followed:
    DVC's hash of the dataset root leaves out what they hold (and a loop such as ``x -> ..``
    would list the dataset again). A link to a file is listed like a file (DVC hashes its
    target); a dangling or looping link too, for the decode stage to reject."""
    files, skipped, links, todo = [], 0, [], [Path(folder)]
    while todo:
        for entry in read_folder(todo.pop()):
            if hidden(entry):
                skipped += 1
            elif entry.is_dir(follow_symlinks=False):
                todo.append(Path(entry.path))
            elif folder_link(entry):
                links.append(Path(entry.path))
            else:
                files.append(Path(entry.path))
    return sorted(files), skipped, sorted(links)


FOLDER_LINK = ("DVC's hash of dataset.root leaves out what a link to a folder holds, so a change "
               "there would rerun nothing; copy the videos in, or point dataset.root at the real "
               "folder")


def warn_folder_links(links):
    """Name each link to a folder that the folder dataset does not follow, with what to do."""
    for link in links:
        log.warning("%s: a link to a folder, not followed: %s", link, FOLDER_LINK)


def list_folder(root):
    """Videos in class folders: ``<root>/<class>/<video>``, a video possibly deeper below its
    class folder (its class is the first folder). Every file below a class folder is listed, in
    any container: the decode stage rejects what is not a video, with its reason. Hidden files
    and folders (``.DS_Store``) and files directly under the root (they have no class) are
    skipped, with their count in the log. Links to folders, class folders included, are not
    followed, each named in the log (files_below)."""
    root = Path(root)
    entries = read_folder(root)
    folders = [e for e in entries if not hidden(e) and e.is_dir(follow_symlinks=False)]
    links = [Path(e.path) for e in entries if not hidden(e) and folder_link(e)]
    loose = [e.name for e in entries if not hidden(e) and not e.is_dir(follow_symlinks=False)
             and not folder_link(e)]
    skipped = sum(map(hidden, entries))
    if loose:
        log.warning("%d file(s) directly under %s belong to no class folder: skipped (%s%s)",
                    len(loose), root, ", ".join(loose[:3]), ", ..." if len(loose) > 3 else "")
    warn_folder_links(links)
    if not folders:
        raise Action2VecError(f"dataset.root: {root} has no class folder; the folder dataset "
                              "reads <root>/<class>/<video>" +
                              (" (links to folders are not followed)" if links else ""))
    videos = []
    for folder in folders:
        files, hidden_files, links = files_below(folder.path)
        skipped += hidden_files
        warn_folder_links(links)
        if not files:
            raise Action2VecError(f"{folder.path}: empty class {folder.name!r}: no file below "
                                  "its folder; add its videos or remove the folder")
        videos += [{"id": video_id(root, path), "path": str(path), "class": folder.name}
                   for path in files]
    if skipped:
        log.info("%d hidden files or folders (names starting with '.') under %s: skipped",
                 skipped, root)
    return videos


OUTSIDE = ("outside dataset.root: DVC watches only the root and would not see the file change; "
           "copy it into the root")


def link_problem(path):
    """Why the link ``path`` cannot be read as a video, or None (not a link, or a link to a
    file: DVC hashes the file it leads to, and so does the decode stage). A link leading
    nowhere or to itself stops DVC before the decode stage runs; it is named here for a stage run
    without DVC."""
    if not os.path.islink(path):
        return None
    try:
        target = os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "link loop: the link leads back to itself; remove it"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "dangling link: what it leads to does not exist; restore it or remove the link"
        return None  # the decode stage names what else keeps the file from being read
    return f"link to a folder: {FOLDER_LINK}" if stat.S_ISDIR(target.st_mode) else None


def refusal(root, path, folder_links):
    """Why a video the dataset names at ``path`` must not be read, or None: a path outside the
    root or below a link to a folder (DVC does not see those files change), or a broken link.
    ``folder_links`` caches {folder: whether it is a link} between calls."""
    root, path = Path(os.path.abspath(root)), Path(os.path.abspath(path))
    if not path.is_relative_to(root):
        return OUTSIDE
    for parent in reversed(path.relative_to(root).parents[:-1]):
        if parent not in folder_links:
            folder_links[parent] = (root / parent).is_symlink()
        if folder_links[parent]:
            return f"below a link to a folder: {parent.as_posix()} is a link; {FOLDER_LINK}"
    return link_problem(path)


def real_path(root, real_root, path):
    """Where the file ``path``, inside ``root`` and below no link to a folder, really is
    (``real_root`` is the root's): its link's target, else its place in the real root."""
    if os.path.islink(path):
        return os.path.realpath(path)
    return os.path.join(real_root, os.path.relpath(os.path.abspath(path), os.path.abspath(root)))


def refuse(root, videos):
    """Mark with ``refused`` (the reason) each video that the decode stage must reject
    (``refusal``), and each second name of one file: a link to a file listed under its own
    name or through an earlier link. One file is one video, kept under its real name, else
    its first link's id."""
    real_root, folder_links, read = os.path.realpath(root), {}, {}
    for video in sorted(videos, key=lambda v: (os.path.islink(v["path"]), v["id"])):
        reason = refusal(root, video["path"], folder_links)
        if reason is None:
            real = real_path(root, real_root, video["path"])
            if real in read:
                reason = (f"second name of one file: it leads to the file of {read[real]}, "
                          "which is read; keep one name")
            read.setdefault(real, video["id"])
        if reason:
            video["refused"] = reason
    return videos


def published(dataset):
    """The dataset's published class names (kept with the class-name map)."""
    return set(packaged_classes(dataset))


def packaged_name_map():
    """The reviewed class-name map of UCF101, HMDB51 and Kinetics-400 shipped with the package."""
    return resources.files("action2vec") / "resources" / "class_names.csv"


def packaged_classes(dataset):
    """The class names of a dataset in the packaged map, in its order (its published list)."""
    with open(packaged_name_map(), newline="") as f:
        names = [r["name"] for r in csv.DictReader(f) if r["dataset"] == dataset]
    if not names:
        raise Action2VecError(f"no dataset {dataset!r} in {packaged_name_map()}")
    return names


def read_lines(path):
    """(line number, stripped line) of a dataset's list file, blank lines skipped."""
    if not Path(path).is_file():
        raise Action2VecError(f"dataset.root: {path} not found (the dataset's own split files)")
    with open(path) as f:
        return [(n, line.strip()) for n, line in enumerate(f, 1) if line.strip()]


def list_ucf101(root):
    """UCF101 as published: UCF-101/<Class>/v_<Class>_gXX_cYY.avi, with ucfTrainTestlist/
    (classInd.txt, trainlist0{1,2,3}.txt, testlist0{1,2,3}.txt). Every video named in the lists,
    once (a video is in several splits' lists; its class is its folder, so they agree); a listed
    file that is missing is left to the decode stage to report."""
    root, lists = Path(root), Path(root) / "ucfTrainTestlist"
    index, classes = {}, published("ucf101")
    for n, line in read_lines(lists / "classInd.txt"):
        parts = line.split()
        if len(parts) != 2 or not parts[0].isdigit():
            raise Action2VecError(f"{lists / 'classInd.txt'}:{n}: malformed line {line!r}")
        if parts[1] not in classes:
            raise Action2VecError(f"{lists / 'classInd.txt'}:{n}: class {parts[1]!r} is not a "
                                  "UCF101 class")
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
    videos, classes = [], published("hmdb51")
    for path in files:
        label = path.name[: -len("_test_split1.txt")]
        if label not in classes:
            raise Action2VecError(f"{path}: class {label!r} is not an HMDB51 class")
        for n, line in read_lines(path):
            parts = line.split()
            if len(parts) != 2 or parts[1] not in HMDB_TAGS or "/" in parts[0]:
                raise Action2VecError(f"{path}:{n}: malformed line {line!r}")
            videos.append({"id": video_id(root, root / label / parts[0]),
                           "path": str(root / label / parts[0]), "class": label,
                           "where": f"{path}:{n}"})
    return unique(videos)


KINETICS_LISTS = ("train.csv", "validate.csv", "val.csv", "test.csv")
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end", "split")


def kinetics_clip(row, where):
    """The clip file name of an annotation row: <youtube_id>_<start:06d>_<end:06d>.mp4."""
    try:
        start, end = int(float(row["time_start"])), int(float(row["time_end"]))
    except ValueError:
        raise Action2VecError(f"{where}: time_start/time_end are not numbers: "
                              f"{row['time_start']!r}, {row['time_end']!r}")
    if not row["youtube_id"]:
        raise Action2VecError(f"{where}: empty youtube_id")
    return f"{row['youtube_id']}_{start:06d}_{end:06d}.mp4"


def folder_class(name):
    """A class name as download scripts spell its folder (spaces or underscores, quotes kept or
    dropped, any case), reduced to one form."""
    return name.replace("_", " ").replace('"', "").replace("'", "").strip().lower()


def index_clips(root):
    """{clip file name: path} of every .mp4 under root; a name found twice is an error."""
    found = {}
    for path in sorted(Path(root).rglob("*.mp4")):
        if path.name in found:
            raise Action2VecError(f"dataset.root: clip {path.name} is both at {found[path.name]} "
                                  f"and at {path}; keep one")
        found[path.name] = path
    return found


def list_kinetics400(root):
    """Kinetics-400 as published: the annotation CSVs (train.csv, validate.csv or val.csv,
    test.csv with ``label,youtube_id,time_start,time_end,split``) at the root or in
    ``annotations/``, and the clips ``<youtube_id>_<start:06d>_<end:06d>.mp4`` anywhere under
    the root, in per-class folders or flat. A clip whose folder names another class than its
    annotation is an error; a clip that is missing (many YouTube videos are gone) is listed at
    its expected path, and the decode stage counts and lists it as missing."""
    root = Path(root)
    lists = [d / n for d in (root, root / "annotations") for n in KINETICS_LISTS
             if (d / n).is_file()]
    if not lists:
        raise Action2VecError(f"dataset.root: no Kinetics annotation CSV "
                              f"({', '.join(KINETICS_LISTS)}) in {root} or {root / 'annotations'}")
    classes, clips, videos = published("kinetics400"), index_clips(root), {}
    by_folder = {folder_class(c): c for c in classes}
    for path in lists:
        with open(path, newline="") as f:
            reader = csv.DictReader(f)
            missing = set(KINETICS_COLUMNS) - set(reader.fieldnames or ())
            if missing == {"label"}:
                log.warning("%s has no labels (the 2017 test set): skipped", path)
                continue
            if missing:
                raise Action2VecError(f"{path}: missing the columns {sorted(missing)} "
                                      f"(expected {','.join(KINETICS_COLUMNS)})")
            for line, row in enumerate(reader, 2):
                where = f"{path}:{line}"
                if None in row or None in row.values():
                    raise Action2VecError(f"{where}: malformed line (wrong number of fields)")
                if row["label"] not in classes:
                    raise Action2VecError(f"{where}: class {row['label']!r} is not a "
                                          "Kinetics-400 class")
                name = kinetics_clip(row, where)
                clip = clips.get(name, root / row["split"] / row["label"] / name)
                folder = by_folder.get(folder_class(clip.parent.name), row["label"])
                if folder != row["label"]:
                    raise Action2VecError(f"{where}: {clip} lies in the folder of class "
                                          f"{folder!r} but is annotated {row['label']!r}")
                if name in videos and videos[name]["class"] != row["label"]:
                    raise Action2VecError(f"{where}: {name} is annotated {row['label']!r} here "
                                          f"and {videos[name]['class']!r} at "
                                          f"{videos[name]['where']}")
                videos.setdefault(name, {"id": name, "path": str(clip), "class": row["label"],
                                         "where": where})
    return unique(list(videos.values()))


# Each name of dataset_names.NAMES -> the function listing its videos.
DATASETS = {RENDERED: list_rendered, "ucf101": list_ucf101, "hmdb51": list_hmdb51,
            "kinetics400": list_kinetics400, "folder": list_folder, "list": list_listed}


def name_map_rows(name):
    """Which rows of a class-name map apply to dataset ``name`` (read_name_map's ``dataset``):
    a published dataset's own, the rendered dataset's own (none: its "verb noun" names are
    split), and every row for datasets of the user's own class names (None): a class spelt as
    a published one gets its reviewed words (the map's datasets agree on every name)."""
    return None if name in OWN_CLASSES else name


def list_videos(name, root, list_file=INDEX):
    """Every video of a dataset, as dicts with ``id``, ``path``, ``class`` (and ``split``, from
    a list dataset's split column, and ``refused``, why the decode stage must reject it:
    ``refuse``), sorted by id; ``list_file`` is the list dataset's file."""
    problem = name_problem(name)
    if problem:
        raise Action2VecError(f"dataset.name: {problem}")
    if not Path(root).is_dir():
        raise Action2VecError(f"dataset.root: {root} is not a directory")
    videos = list_listed(root, list_file) if name == "list" else DATASETS[name](root)
    return sorted(refuse(root, videos), key=lambda v: v["id"])
