"""``action2vec info``: what a file of a project holds, said from its content: a feature or
PCA shard (with its checksum), a sequence file, an ``embed`` output, a model checkpoint, a
word2vec file, an export's metadata, the PCA projection, or a numpy array file. Nothing is read
as a pickle.
"""

import json
from pathlib import Path

import h5py
import numpy as np

from action2vec import Action2VecError
from action2vec.files import NOT_FOUND, file_problem, json_of
from action2vec.pca import PICKLE_REFUSED, Projection
from action2vec.sequences import is_sequences, read_index
from action2vec.shards import (H5_ERRORS, DamagedShard, is_shard, read_attrs, read_shard,
                               summary)

BINARY_SUFFIXES = (".bin", ".bin.gz")


def describe(path):
    """[(field, value)] saying what a file is and holds: a feature or PCA shard, a sequence
    file, an ``embed`` output, a model checkpoint, a word2vec file, an export's metadata, the
    PCA projection, or a numpy array file. Nothing is read as a pickle."""
    path = Path(path)
    problem = file_problem(path)
    if problem:
        raise Action2VecError(f"{path}: {'no such file' if problem == NOT_FOUND else problem}")
    name = path.name.lower()
    if name.endswith((".h5", ".hdf5")):
        return describe_hdf5(path)
    if name.endswith(".pt"):
        return describe_checkpoint(path)
    if name.endswith(".json"):
        return describe_metadata(path)
    if name.endswith((".npy", ".npz")):
        return describe_numpy(path)
    if name.endswith((".txt", ".vec", ".w2v") + BINARY_SUFFIXES):
        return describe_word2vec(path)
    raise Action2VecError(f"{path}: cannot tell what this is from its name; expected .h5 "
                          "(shard, sequences, embed output), .pt (model), .txt/.bin (word2vec), "
                          "metadata .json, or .npy/.npz")


def describe_hdf5(path):
    try:
        return describe_hdf5_content(path)
    except H5_ERRORS as exc:  # h5py on a damaged file
        raise Action2VecError(f"{path}: not a readable HDF5 file "
                              f"({' '.join(str(exc).split()) or type(exc).__name__})") from None


def shard_checksum(path):
    """"ok", or why a shard does not match its checksum (it is read in full to tell)."""
    try:
        read_shard(path)
    except DamagedShard as exc:
        return f"DAMAGED: {exc.reason}"
    return "ok"


def describe_shard(path):
    """A feature or PCA shard: its size and how its features were made."""
    contents, attrs = summary(path), read_attrs(path)
    kind = "PCA-projected feature shard" if "pca_dims" in attrs else "clip feature shard"
    rows = [("kind", kind), ("videos", contents.videos), ("clips", contents.clips),
            ("dim", contents.dim), ("classes", len(set(contents.labels))),
            ("checksum", shard_checksum(path))]
    keys = ["extractor", "layer", "weights", "weights_sha256", "random_init", "stride",
            "fps", "max_seconds", "precision", "pca_dims", "feature_key"]
    return rows + [(k, attrs[k]) for k in keys if k in attrs and attrs[k] != ""]


def describe_hdf5_content(path):
    if is_shard(path):
        return describe_shard(path)
    if is_sequences(path):
        index = read_index(path)
        return [("kind", "padded clip-feature sequences (sequence stage)"),
                ("videos", len(index.video_id)), ("steps", index.steps), ("dim", index.dim),
                ("mean length", f"{index.lengths.mean():.1f}" if index.video_id else "-"),
                ("classes", len(set(index.label)))]
    with h5py.File(path, "r") as f:
        attrs = {k: v for k, v in f.attrs.items()}
        if "embedding" in f and "path" in f:
            ok = f["ok"][:]
            return [("kind", "action2vec embed output"), ("videos", len(ok)),
                    ("embedded", int(ok.sum())), ("dim", f["embedding"].shape[1]),
                    *[(k, attrs[k]) for k in ("model", "model_sha256") if k in attrs]]
        return [("kind", "HDF5 file")] + [(k, f"{v.shape} {v.dtype}") for k, v in f.items()
                                          if isinstance(v, h5py.Dataset)]


def describe_checkpoint(path):
    from action2vec.model import load_model

    model, checkpoint = load_model(path, "cpu")
    config, split = checkpoint["config"], checkpoint.get("split", {})
    return [("kind", "Action2Vec model checkpoint (train stage)"),
            ("variant", checkpoint.get("variant")), ("network", config["kind"]),
            ("input", f"{checkpoint.get('steps')} steps x {config['input_dim']}"),
            ("embedding dim", config["embed_dim"]),
            ("trained on", f"{len(split.get('seen', []))} classes"),
            ("held out", f"{len(set(split.get('unseen', [])) - set(split.get('seen', [])))} "
                         "classes"),
            ("parameters", sum(p.numel() for p in model.parameters())),
            ("config", json.dumps(config))]


def describe_word2vec(path):
    from gensim.models import KeyedVectors

    binary = path.name.lower().endswith(BINARY_SUFFIXES)
    kind = "binary" if binary else "text"
    try:  # the header gives the size; only the first vectors are read, so any size is quick
        with open_text_or_gzip(path) as f:
            count, dim = (int(x) for x in f.readline().split())
        first = KeyedVectors.load_word2vec_format(str(path), binary=binary, limit=5)
    except Exception as exc:  # noqa: BLE001 - any parse failure gets the file's name
        raise Action2VecError(f"{path}: not a word2vec {kind} file "
                              f"({type(exc).__name__}: {exc})")
    rows = [("kind", f"word2vec {kind} vectors"), ("vectors", count), ("dim", dim),
            ("first keys", ", ".join(first.index_to_key))]
    meta = path.with_name("metadata.json")
    if meta.is_file():
        rows += [(k, v) for k, v in describe_metadata(meta) if k not in ("kind", "dim")]
    return rows


def open_text_or_gzip(path):
    import gzip

    return gzip.open(path, "rb") if str(path).endswith(".gz") else open(path, "rb")


NOT_METADATA = "not the metadata.json of an `action2vec export`"


def describe_metadata(path):
    meta, problem = json_of(path)
    if problem:
        raise Action2VecError(f"{path}: not valid JSON ({problem})")
    if not isinstance(meta, dict) or meta.get("format") != "word2vec":
        raise Action2VecError(f"{path}: {NOT_METADATA}")

    def field(*keys):
        value = meta
        for key in keys:
            if not isinstance(value, dict) or key not in value:
                raise Action2VecError(f"{path}: {NOT_METADATA} (no {'.'.join(keys)})")
            value = value[key]
        return value

    top1 = zero_shot_top1(field("metrics"))
    dataset, classes = field("dataset", "name"), field("classes")
    return [("kind", "action2vec export metadata"), ("dataset", dataset),
            ("classes", len(classes) if isinstance(classes, (dict, list)) else classes),
            ("videos", field("n_videos")), ("extra words", field("words", "count")),
            ("dim", field("dim")),
            ("model", f"{field('model', 'path')} ({field('model', 'variant')})"),
            ("word vectors", field("word_vectors")),
            ("zero-shot top-1", json.dumps(top1) if top1 else "-")]


def zero_shot_top1(metrics):
    """{ratio: Action2Vec's mean zero-shot top-1, 3 decimals} of an export's metrics; what is
    not there is left out."""
    zsl = metrics.get("zsl") if isinstance(metrics, dict) else None
    top1 = {}
    for ratio, results in (zsl.items() if isinstance(zsl, dict) else ()):
        found = results.get("action2vec") if isinstance(results, dict) else None
        value = found.get("top1_mean") if isinstance(found, dict) else None
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            top1[ratio] = round(value, 3)
    return top1


def describe_numpy(path):
    try:
        data = np.load(path, allow_pickle=False)
        if isinstance(data, np.ndarray):
            return [("kind", "numpy array"), ("shape", data.shape), ("dtype", data.dtype),
                    ("rows all NaN", int(np.isnan(data).all(axis=-1).sum())
                     if data.ndim == 2 and data.dtype.kind == "f" else "-")]
        with data:
            if set(Projection.ARRAYS) <= set(data.files):
                return describe_projection(path)
            return [("kind", "numpy archive")] + [(k, f"{data[k].shape} {data[k].dtype}")
                                                  for k in data.files]
    except Action2VecError:
        raise
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets its name
        reason = PICKLE_REFUSED if "pickle" in str(exc) else exc
        raise Action2VecError(f"{path}: not a readable numpy file ({reason})") from None


def describe_projection(path):
    """The pca stage's model.npz: the fitted PCA and its scale."""
    projection = Projection.load(path)
    return [("kind", "PCA projection (pca stage)"), ("dims", projection.dims),
            ("input dim", projection.input_dim),
            ("variance kept", f"{100 * projection.variance_kept:.1f}%"),
            ("fit samples", projection.n_samples), ("scale", f"{projection.scale:.4g}")]
