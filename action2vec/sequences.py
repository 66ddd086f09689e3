"""Fixed-length feature sequences (section 3.2): every video padded with zeros or clipped to the
same number of steps (52 in the paper), its true length kept for masking."""

from typing import NamedTuple

import h5py
import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.shards import STRING, iter_videos


def pad_or_clip(features, steps):
    """(n, D) -> ((steps, D) float32, true length min(n, steps))."""
    length = min(len(features), steps)
    out = np.zeros((steps, features.shape[1]), dtype=np.float32)
    out[:length] = features[:length]
    return out, length


def sequences_bytes(videos, steps, dim, dtype="float32"):
    """The size of write_sequences' file for ``videos`` videos (its arrays; HDF5 adds little)."""
    return videos * (steps * dim * np.dtype(dtype).itemsize + 8)


def write_sequences(path, videos, steps, dim, dtype="float32"):
    """Write (video_id, label, features) triples, streamed, as one HDF5 file of padded
    sequences, stored as ``dtype`` (float16 halves the file); returns the number of videos."""
    ids, labels, lengths = [], [], []
    with h5py.File(path, "w") as f:
        data = f.create_dataset("sequences", (0, steps, dim), maxshape=(None, steps, dim),
                                dtype=np.dtype(dtype), chunks=(1, steps, dim))
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


def iter_projected(directory, index, projection):
    """(video_id, label, projected features) for the videos of ``index`` (a sequence file's
    Index), in its order, from the clip features of ``directory`` projected by ``projection``
    (a pca.Projection): each split projects with its own PCA without a sequence file per split.
    Each video is projected whole, exactly as the pca stage does. Features that do not match
    the index (a video missing, or of another length) are an error."""
    order = list(index.video_id)
    position = dict(zip(order, range(len(order))))
    expected = 0
    for video, label, features in iter_videos(directory):
        if video not in position:
            continue
        i = position[video]
        if i != expected or min(len(features), index.steps) != index.lengths[i]:
            break
        expected += 1
        yield video, label, projection.transform(features)
    if expected != len(order):
        raise Action2VecError(f"{directory} does not match the sequence file from video "
                              f"{order[expected]!r} on ({len(order) - expected} videos); "
                              "run `dvc repro`")


def project_sequences(directory, index, projection, dtype="float32"):
    """read_sequences's dict for the videos of ``index``, projected at load time
    (``iter_projected``), held in memory as ``dtype``."""
    out = np.zeros((len(index.video_id), index.steps, projection.dims), dtype=np.dtype(dtype))
    for i, (_, _, features) in enumerate(iter_projected(directory, index, projection)):
        out[i] = pad_or_clip(features, index.steps)[0]
    return {"sequences": out, "lengths": np.asarray(index.lengths),
            "video_id": list(index.video_id), "label": list(index.label)}


def write_projected(path, directory, index, projection, dtype="float32"):
    """``project_sequences``'s videos written as a sequence file at ``path`` instead, streamed:
    memory stays bounded whatever the number of videos."""
    with atomic(path) as tmp:
        write_sequences(tmp, iter_projected(directory, index, projection), index.steps,
                        projection.dims, dtype)


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
    dtype: str = "float32"  # how the sequences are stored


def read_index(path):
    """The Index of a sequence file."""
    with h5py.File(path, "r") as f:
        _, steps, dim = f["sequences"].shape
        return Index(list(f["video_id"].asstr()[:]), list(f["label"].asstr()[:]),
                     f["lengths"][:], steps, dim, str(f["sequences"].dtype))


def iter_batches(path, size):
    """(sequences, lengths) of a sequence file, ``size`` videos at a time, in file order: only
    one batch is in memory."""
    with h5py.File(path, "r") as f:
        for start in range(0, len(f["lengths"]), size):
            yield f["sequences"][start:start + size], f["lengths"][start:start + size]


class Rows:
    """Padded sequences read a batch of rows at a time, as float32: ``read(rows)`` returns
    them in the order asked. ``InMemory`` holds them in an array; ``OnDisk`` reads them from a
    sequence file, so that memory stays bounded whatever the number of videos. Both give the
    same values for the same stored data."""

    def __len__(self):
        return len(self.lengths)

    def subset(self, rows):
        """The same source restricted to ``rows`` (indices into it), in that order."""
        return Subset(self, np.asarray(rows, dtype=np.int64))


class InMemory(Rows):
    def __init__(self, sequences, lengths):
        self.sequences = sequences
        self.lengths = np.asarray(lengths)

    def read(self, rows):
        return np.asarray(self.sequences[np.asarray(rows)], dtype=np.float32)


class OnDisk(Rows):
    """Rows of a sequence file. HDF5 reads need increasing indices, so a batch is read sorted
    and put back in the order asked; the file is opened on first use (a worker process opens
    its own)."""

    def __init__(self, path):
        self.path = path
        self.file = None
        with h5py.File(path, "r") as f:
            self.lengths = f["lengths"][:]

    def read(self, rows):
        if self.file is None:
            self.file = h5py.File(self.path, "r")
        rows = np.asarray(rows, dtype=np.int64)
        if len(rows) == 0:
            return np.zeros((0, *self.file["sequences"].shape[1:]), dtype=np.float32)
        order = np.argsort(rows, kind="stable")
        unique, inverse = np.unique(rows[order], return_inverse=True)
        block = self.file["sequences"][unique]
        out = np.empty((len(rows), *block.shape[1:]), dtype=np.float32)
        out[order] = block[inverse]
        return out

    def close(self):
        if self.file is not None:
            self.file.close()
            self.file = None


class Subset(Rows):
    def __init__(self, source, rows):
        self.source = source
        self.rows = rows
        self.lengths = source.lengths[rows]

    def read(self, rows):
        return self.source.read(self.rows[np.asarray(rows, dtype=np.int64)])


def as_rows(sequences, lengths=None):
    """``sequences`` as a Rows source: an array (with its ``lengths``) is held in memory."""
    if isinstance(sequences, Rows):
        return sequences
    return InMemory(sequences, lengths if lengths is not None else
                    np.full(len(sequences), sequences.shape[1]))
