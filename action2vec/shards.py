"""HDF5 feature shards: bounded files of per-video feature arrays, each readable on its own.

A shard holds ``features`` (all clips of its videos, stacked), ``offsets`` (video i owns rows
offsets[i]:offsets[i+1]), ``video_id`` and ``label``, and its attributes say how the features were
made (extractor, layer, weights checksum, params). A shard is written under a temporary name and
renamed when complete, so a file named ``shard-*.h5`` is never partial.
"""

import json
import os
from pathlib import Path

import h5py
import numpy as np

from action2vec import Action2VecError

PATTERN = "shard-*.h5"
STRING = h5py.string_dtype()


def write_shard(path, video_ids, labels, arrays, attrs):
    """Write one complete shard atomically."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    lengths = [len(a) for a in arrays]
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    with h5py.File(tmp, "w") as f:
        f.create_dataset("features", data=np.concatenate(arrays).astype(np.float32),
                         chunks=True, compression="lzf")
        f.create_dataset("offsets", data=offsets)
        f.create_dataset("video_id", data=np.asarray(video_ids, dtype=object), dtype=STRING)
        f.create_dataset("label", data=np.asarray(labels, dtype=object), dtype=STRING)
        for key, value in attrs.items():
            f.attrs[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
    os.replace(tmp, path)


class ShardWriter:
    """Collects per-video arrays and writes a shard every ``max_videos`` videos."""

    def __init__(self, out_dir, attrs, max_videos):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.attrs = attrs
        self.max_videos = max_videos
        self.count = 0
        self.pending = ([], [], [])

    def add(self, video_id, label, array):
        for column, value in zip(self.pending, (video_id, label, array)):
            column.append(value)
        if len(self.pending[0]) >= self.max_videos:
            self.flush()

    def flush(self):
        if self.pending[0]:
            write_shard(self.out_dir / f"shard-{self.count:05d}.h5", *self.pending, self.attrs)
            self.count += 1
            self.pending = ([], [], [])

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.flush()


def shard_paths(directory):
    """Complete shards of a directory, in order; an empty directory is an error."""
    paths = sorted(Path(directory).glob(PATTERN))
    if not paths:
        raise Action2VecError(f"{directory}: no feature shards ({PATTERN})")
    return paths


def read_attrs(path):
    """A shard's metadata as plain Python values."""
    with h5py.File(path, "r") as f:
        return {k: decode_attr(v) for k, v in f.attrs.items()}


def decode_attr(value):
    if isinstance(value, str) and value.startswith(("[", "{")):
        return json.loads(value)
    return value.item() if hasattr(value, "item") else value


def iter_videos(directory):
    """(video_id, label, features) for every video of every shard of a directory."""
    for path in shard_paths(directory):
        with h5py.File(path, "r") as f:
            features = f["features"][:]
            offsets = f["offsets"][:]
            ids = f["video_id"].asstr()[:]
            labels = f["label"].asstr()[:]
        for i, (video_id, label) in enumerate(zip(ids, labels)):
            yield video_id, label, features[offsets[i]:offsets[i + 1]]
