"""Fixed-length feature sequences (section 3.2): every video padded with zeros or clipped to the
same number of steps (52 in the paper), its true length kept for masking."""

from typing import NamedTuple

import h5py
import numpy as np

from action2vec import Action2VecError
from action2vec.shards import STRING, iter_videos


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


def project_sequences(directory, index, projection):
    """read_sequences's dict for the videos of ``index`` (a sequence file's Index), built from
    the clip features of ``directory`` projected by ``projection`` (a pca.Projection) at load
    time: each split projects with its own PCA without a sequence file per split. Each video is
    projected whole and then clipped, exactly as the pca and sequence stages do."""
    wanted = dict(zip(index.video_id, range(len(index.video_id))))
    out = np.zeros((len(wanted), index.steps, projection.dims), dtype=np.float32)
    found = np.zeros(len(wanted), dtype=bool)
    for video, _, features in iter_videos(directory):
        if video in wanted:
            i = wanted[video]
            out[i], length = pad_or_clip(projection.transform(features), index.steps)
            found[i] = length == index.lengths[i]
    if not found.all():
        missing = [v for v, ok in zip(index.video_id, found) if not ok]
        raise Action2VecError(f"{directory} does not match the sequence file for {len(missing)} "
                              f"videos (e.g. {missing[:3]}); run `dvc repro`")
    return {"sequences": out, "lengths": np.asarray(index.lengths),
            "video_id": list(index.video_id), "label": list(index.label)}


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
