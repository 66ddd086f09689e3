"""Fixed-length feature sequences (section 3.2): every video padded with zeros or clipped to the
same number of steps (52 in the paper), its true length kept for masking."""

from typing import NamedTuple

import h5py
import numpy as np

from action2vec.shards import STRING


def pad_or_clip(features, steps):
    """(n, D) -> ((steps, D) float32, true length min(n, steps))."""
    length = min(len(features), steps)
    out = np.zeros((steps, features.shape[1]), dtype=np.float32)
    out[:length] = features[:length]
    return out, length


def write_sequences(path, videos, steps, dim):
    """Write (video_id, label, features) triples, streamed, as one HDF5 file of padded
    sequences; returns the number of videos."""
    ids, labels, lengths = [], [], []
    with h5py.File(path, "w") as f:
        data = f.create_dataset("sequences", (0, steps, dim), maxshape=(None, steps, dim),
                                dtype=np.float32, chunks=(1, steps, dim))
        for video_id, label, features in videos:
            data.resize(len(ids) + 1, axis=0)
            data[len(ids)], length = pad_or_clip(features, steps)
            ids.append(video_id)
            labels.append(label)
            lengths.append(length)
        f.create_dataset("lengths", data=np.asarray(lengths, dtype=np.int64))
        f.create_dataset("video_id", data=ids, dtype=STRING)
        f.create_dataset("label", data=labels, dtype=STRING)
    return len(ids)


def read_sequences(path):
    """{'sequences': (N, T, D), 'lengths': (N,), 'video_id': [...], 'label': [...]}."""
    with h5py.File(path, "r") as f:
        return {"sequences": f["sequences"][:], "lengths": f["lengths"][:],
                "video_id": list(f["video_id"].asstr()[:]), "label": list(f["label"].asstr()[:])}


def is_sequences(path):
    """Whether an HDF5 file has the sequence file's layout."""
    with h5py.File(path, "r") as f:
        return {"sequences", "lengths", "video_id", "label"} <= set(f)


class Index(NamedTuple):
    """What a sequence file holds, read without its features."""

    video_id: list
    label: list
    lengths: np.ndarray  # each video's true number of steps
    steps: int
    dim: int


def read_index(path):
    """The Index of a sequence file."""
    with h5py.File(path, "r") as f:
        _, steps, dim = f["sequences"].shape
        return Index(list(f["video_id"].asstr()[:]), list(f["label"].asstr()[:]),
                     f["lengths"][:], steps, dim)


def iter_batches(path, size):
    """(sequences, lengths) of a sequence file, ``size`` videos at a time, in file order: only
    one batch is in memory."""
    with h5py.File(path, "r") as f:
        for start in range(0, len(f["lengths"]), size):
            yield f["sequences"][start:start + size], f["lengths"][start:start + size]
