"""The learned embeddings as word2vec files (text and binary), which
``gensim.models.KeyedVectors.load_word2vec_format`` and most word-vector tools read, with a
metadata file saying where they came from; and the ``embed`` command's output files.

A class's key is its name with spaces as underscores ("play_piano"), as in GoogleNews phrases.
"""

import json
import os
import re
from pathlib import Path

import h5py
import numpy as np

from action2vec import Action2VecError, __version__
from action2vec.files import atomic, file_sha256, json_of
from action2vec.paths import REPORTS


def word2vec_key(name):
    """A class name or video id as one word2vec token: whitespace becomes underscores."""
    return re.sub(r"\s+", "_", str(name).strip())


def keys_of(names, what):
    keys = [word2vec_key(n) for n in names]
    if len(set(keys)) != len(keys):
        twice = sorted({k for k in keys if keys.count(k) > 1})
        raise Action2VecError(f"export: {what} {twice[:3]} collide as word2vec keys")
    return keys


def write_word2vec(path, keys, matrix, binary):
    """One word2vec file, written under a temporary name and renamed when complete."""
    from gensim.models import KeyedVectors

    matrix = np.asarray(matrix, dtype=np.float32)
    vectors = KeyedVectors(matrix.shape[1])
    vectors.add_vectors(keys, matrix)
    with atomic(path) as tmp:
        vectors.save_word2vec_format(str(tmp), binary=binary)
    return Path(path)


def write_both(out_dir, stem, keys, matrix):
    """``stem.txt`` (text) and ``stem.bin`` (binary)."""
    return [write_word2vec(out_dir / f"{stem}.txt", keys, matrix, binary=False),
            write_word2vec(out_dir / f"{stem}.bin", keys, matrix, binary=True)]


def project_metrics(project):
    """Every figure of the project: its reports/*.json, by file stem. A report that cannot be
    read as JSON is an error naming it."""
    metrics = {}
    for path in sorted((Path(project) / REPORTS).glob("*.json")):
        metrics[path.stem], problem = json_of(path)
        if problem:
            raise Action2VecError(f"{path}: not a report of the pipeline ({problem}); run "
                                  "`dvc repro` to write it again")
    return metrics


def export(trained, out_dir, videos=False, words=0):
    """Write classes.{txt,bin} (one vector per class: the mean embedding of its videos),
    optionally videos.{txt,bin} (one per video, keyed by video id) and the ``words`` most
    frequent vocabulary words beside the classes (they share the space; with a sentence model,
    the default vectors' words as it embeds them), and metadata.json. Returns the paths
    written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    names, matrix = trained.classes
    keys = keys_of(names, "classes")
    class_keys = dict(zip(keys, names))
    vocab, vectors = trained.space.vocabulary(words) if words else ([], None)
    kept = [i for i, w in enumerate(vocab) if w not in class_keys]
    extra_keys = [vocab[i] for i in kept]
    extra = vectors[kept] if kept else np.zeros((0, trained.dim), np.float32)
    written = write_both(out_dir, "classes", keys + extra_keys, np.concatenate([matrix, extra]))
    n_videos = 0
    if videos:
        ids, _, embeddings = trained.videos
        written += write_both(out_dir, "videos", keys_of(ids, "video ids"), embeddings)
        n_videos = len(ids)
    meta = {
        "format": "word2vec",
        "files": {"classes": ["classes.txt", "classes.bin"],
                  **({"videos": ["videos.txt", "videos.bin"]} if videos else {})},
        "dim": trained.dim,
        "dataset": trained.params["dataset"],
        "classes": class_keys,
        "class_vector": "mean Action2Vec embedding of the class's videos",
        "words": {"count": len(extra_keys), "source": trained.spec,
                  "skipped_as_class_keys": len(vocab) - len(extra_keys)},
        "n_videos": n_videos,
        "model": {"path": str(trained.model_path), "sha256": file_sha256(trained.model_path),
                  "variant": trained.checkpoint.get("variant"),
                  "config": trained.checkpoint["config"]},
        "word_vectors": trained.spec,
        "params": trained.params,
        "metrics": project_metrics(trained.project),
        "action2vec_version": __version__,
    }
    with atomic(out_dir / "metadata.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=1))
    return written + [out_dir / "metadata.json"]


def check_video_vectors_path(path):
    """``embed --out`` must name a .npy or .h5 file in a folder that exists and can be written
    to; checked before anything is loaded, so that no work is lost at the end."""
    path = Path(path)
    if path.suffix not in (".npy", ".h5", ".hdf5"):
        raise Action2VecError(f"--out {path}: use a .npy or .h5 file name")
    return check_output_file(path, "--out")


def check_output_file(path, option):
    """An output file named by ``option`` must lie in a folder that exists and can be written
    to, and must not be a folder itself."""
    path, folder = Path(path), Path(path).parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise Action2VecError(f"{option} {path}: the folder {folder} {problem}")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise Action2VecError(f"{option} {path}: the folder {folder} is not writable")
    if path.is_dir():
        raise Action2VecError(f"{option} {path}: is a folder; name a file in it")
    return path


def write_video_vectors(path, paths, vectors, clips, model_path):
    """``embed --out``: .npy, one row per given video (NaN where it failed), or .h5 with the
    paths, an ``ok`` flag and clip counts too. Written under a temporary name, then renamed."""
    path = check_video_vectors_path(path)
    dim = next(len(v) for v in vectors if v is not None)
    matrix = np.array([np.full(dim, np.nan, np.float32) if v is None else v for v in vectors],
                      dtype=np.float32)
    with atomic(path) as tmp:
        if path.suffix == ".npy":
            with open(tmp, "wb") as f:
                np.save(f, matrix)
        else:
            with h5py.File(tmp, "w") as f:
                f["embedding"] = matrix
                f.create_dataset("path", data=[str(p) for p in paths],
                                 dtype=h5py.string_dtype())
                f["ok"] = np.array([v is not None for v in vectors])
                f["n_clips"] = np.asarray(clips, dtype=np.int64)
                f.attrs["model"] = str(model_path)
                f.attrs["model_sha256"] = file_sha256(model_path)
    return path
