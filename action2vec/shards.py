"""HDF5 feature shards: bounded files of per-video feature arrays, each readable on its own.

A shard holds ``features`` (all clips of its videos, stacked), ``offsets`` (video i owns rows
offsets[i]:offsets[i+1]), ``video_id`` and ``label``, and its attributes say how the features were
made (extractor, layer, weights checksum, params). A shard is written under a temporary name and
renamed when complete, so a file named ``shard-*.h5`` is never partial. That makes extraction
resumable: after an interruption the finished shards are kept and only the rest is redone.
"""

import json
import logging
import os
from pathlib import Path

import h5py
import numpy as np

from action2vec import Action2VecError

PATTERN = "shard-*.h5"
STRING = h5py.string_dtype()
log = logging.getLogger(__name__)


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

    def __init__(self, out_dir, attrs, max_videos, first=0):
        self.out_dir = Path(out_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self.attrs = attrs
        self.max_videos = max_videos
        self.first = first  # number of the first shard written (after those kept by resume)
        self.count = 0
        self.pending = ([], [], [])

    def add(self, video_id, label, array):
        for column, value in zip(self.pending, (video_id, label, array)):
            column.append(value)
        if len(self.pending[0]) >= self.max_videos:
            self.flush()

    def flush(self):
        if self.pending[0]:
            name = f"shard-{self.first + self.count:05d}.h5"
            write_shard(self.out_dir / name, *self.pending, self.attrs)
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
        ids, labels, arrays, _ = read_shard(path)
        yield from zip(ids, labels, arrays)


def read_shard(path):
    """(video ids, labels, per-video arrays, attrs) of one shard."""
    with h5py.File(path, "r") as f:
        features, offsets = f["features"][:], f["offsets"][:]
        ids, labels = list(f["video_id"].asstr()[:]), list(f["label"].asstr()[:])
        attrs = {k: decode_attr(v) for k, v in f.attrs.items()}
    return ids, labels, [features[offsets[i]:offsets[i + 1]] for i in range(len(ids))], attrs


def shard_index(path):
    """(feature_key, video ids) of a shard, read without its features; a shard whose features
    and offsets disagree is an error."""
    with h5py.File(path, "r") as f:
        if f["features"].shape[0] != f["offsets"][-1]:
            raise ValueError(f"{f['features'].shape[0]} feature rows, offsets say "
                             f"{f['offsets'][-1]}")
        return decode_attr(f.attrs.get("feature_key", "")), list(f["video_id"].asstr()[:])


def shard_number(path):
    return int(Path(path).stem.split("-")[1])


def resume(out_dir, key, wanted):
    """Keep what an earlier run of the same extraction finished; return (ids done, next number).

    A shard is kept when its ``feature_key`` attribute equals ``key`` (same extractor, weights
    and clip settings), with the videos no longer in ``wanted`` removed from it. Leftover
    temporary files, shards of other settings and unreadable shards are deleted, so their videos
    are extracted again. Files are replaced or deleted, never modified in place (they may be
    read-only links into the DVC cache).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for partial in out_dir.glob("*.tmp"):
        partial.unlink()
    done, following = set(), 0
    for path in sorted(out_dir.glob(PATTERN)):
        try:
            shard_key, ids = shard_index(path)
        except Exception as exc:  # noqa: BLE001 - any damage means: extract these videos again
            log.warning("%s cannot be read (%s); its videos are extracted again", path, exc)
            path.unlink()
            continue
        if shard_key != key:
            path.unlink()
            continue
        keep = [i for i, video in enumerate(ids) if video in wanted and video not in done]
        if not keep:
            path.unlink()
            continue
        if len(keep) < len(ids):  # only then are the features read
            ids, labels, arrays, attrs = read_shard(path)
            write_shard(path, [ids[i] for i in keep], [labels[i] for i in keep],
                        [arrays[i] for i in keep], attrs)
        done.update(ids[i] for i in keep)
        following = max(following, shard_number(path) + 1)
    return done, following
