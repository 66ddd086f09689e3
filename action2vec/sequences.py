"""Fixed-length feature sequences (section 3.2): every video padded with zeros or clipped to the
same number of steps (52 in the paper), its true length kept for masking. A sequence file holds
them padded; a ragged file (the train stage's scratch) holds each video's clips alone and is
padded as it is read."""

from typing import NamedTuple

import h5py
import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.shards import STRING, iter_videos, read_rows, video_index


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


def ragged_bytes(lengths, dim, dtype="float32"):
    """The size of write_ragged's file for videos of ``lengths`` (its arrays; HDF5 adds little)."""
    return int(np.sum(lengths)) * dim * np.dtype(dtype).itemsize + 8 * len(lengths)


def write_ragged(path, videos, lengths, steps, dim, dtype="float32"):
    """Write the first ``lengths[i]`` clips of each array of ``videos`` (streamed), stored as
    ``dtype``, laid end to end in one HDF5 file with the lengths: no padding, so a video takes
    its own length on disk, not ``steps``. OnDisk reads it back padded to ``steps``, as the
    same videos' sequence file holds them (each clip converted to ``dtype`` as there)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    with h5py.File(path, "w") as f:
        clips = f.create_dataset("clips", (int(lengths.sum()), dim), dtype=np.dtype(dtype))
        f.create_dataset("lengths", data=lengths)
        f.attrs["steps"] = steps
        start = count = 0
        for count, (length, features) in enumerate(zip(lengths, videos), 1):
            clips[start:start + length] = np.asarray(features[:length], dtype=np.float32)
            start += length
        if count != len(lengths):
            raise Action2VecError(f"{path}: {count} videos for {len(lengths)} lengths")


def iter_projected(directory, index, projection=None):
    """(video_id, label, projected features) for the videos of ``index`` (a sequence file's
    Index), in its order, from the clip features of ``directory`` projected by ``projection``
    (a pca.Projection): each split projects with its own PCA without a sequence file per split.
    Each video is projected whole, exactly as the pca stage does. With ``projection`` None the
    features are taken as they are (the pca stage's shards, projected already), read in blocks
    (``iter_blocks``). Features that do not match the index (a video missing, or of another
    length) are an error."""
    order = list(index.video_id)
    position = dict(zip(order, range(len(order))))
    expected = 0
    videos = iter_videos(directory) if projection is not None else iter_blocks(directory)
    for video, label, features in videos:
        if video not in position:
            continue
        i = position[video]
        if i != expected or min(len(features), index.steps) != index.lengths[i]:
            break
        expected += 1
        yield video, label, features if projection is None else projection.transform(features)
    if expected != len(order):
        raise Action2VecError(f"{directory} does not match the sequence file from video "
                              f"{order[expected]!r} on ({len(order) - expected} videos); "
                              "run `dvc repro`")


def iter_blocks(directory, block=64):
    """(video_id, label, features) for every video of a directory's shards, in video id order,
    read ``block`` videos at a time (their chunks checked by fletcher32): memory holds a block,
    where iter_videos holds a whole shard (the extract stage's hold features.shard_videos)."""
    videos = list(video_index(directory).items())
    for start in range(0, len(videos), block):
        part = videos[start:start + block]
        lengths = [where.stop - where.start for _, where in part]
        clips = read_rows([where for _, where in part], np.arange(sum(lengths)))
        for (video, where), features in zip(part, np.split(clips, np.cumsum(lengths)[:-1])):
            yield video, where.label, features


def projected_dims(index, projection):
    """The number of values per clip of ``iter_projected``'s features."""
    return index.dim if projection is None else projection.dims


def project_sequences(directory, index, projection, dtype="float32"):
    """read_sequences's dict for the videos of ``index``, projected at load time
    (``iter_projected``), held in memory as ``dtype``."""
    out = np.zeros((len(index.video_id), index.steps, projected_dims(index, projection)),
                   dtype=np.dtype(dtype))
    for i, (_, _, features) in enumerate(iter_projected(directory, index, projection)):
        out[i] = pad_or_clip(features, index.steps)[0]
    return {"sequences": out, "lengths": np.asarray(index.lengths),
            "video_id": list(index.video_id), "label": list(index.label)}


def write_projected(path, directory, index, projection, dtype="float32"):
    """``project_sequences``'s videos written at ``path`` instead, as a ragged file (read back
    padded by OnDisk), streamed: memory stays bounded whatever the number of videos, and the
    file holds each video's clips alone."""
    videos = (features for _, _, features in iter_projected(directory, index, projection))
    with atomic(path) as tmp:
        write_ragged(tmp, videos, index.lengths, index.steps, projected_dims(index, projection),
                     dtype)


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
    """The Index of a sequence file; equal labels are one string (one per class in memory,
    not one per video)."""
    with h5py.File(path, "r") as f:
        _, steps, dim = f["sequences"].shape
        return Index(list(f["video_id"].asstr()[:]), shared(f["label"].asstr()[:]),
                     f["lengths"][:], steps, dim, str(f["sequences"].dtype))


def read_lengths(path):
    """(lengths, steps, dim) of a sequence file, read without its ids, labels or features."""
    with h5py.File(path, "r") as f:
        return (f["lengths"][:], *f["sequences"].shape[1:])


def shared(strings):
    """``strings`` as a list in which equal strings are the same object."""
    first = {}
    return [first.setdefault(s, s) for s in strings]


def iter_batches(path, size):
    """(sequences, lengths) of a sequence file, ``size`` videos at a time, in file order: only
    one batch is in memory."""
    with h5py.File(path, "r") as f:
        for start in range(0, len(f["lengths"]), size):
            yield f["sequences"][start:start + size], f["lengths"][start:start + size]


class Rows:
    """Padded sequences read a batch of rows at a time, as float32: ``read(rows)`` returns
    them in the order asked. ``InMemory`` holds them in an array; ``OnDisk`` reads them from a
    ragged file, so that memory stays bounded whatever the number of videos. Both give the
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
    """Rows of a ragged file (write_ragged's), each video's clips read alone and padded with
    zeros: the arrays of the same videos' sequence file. A batch is read in file order (HDF5
    reads forward) and put back in the order asked; the file is opened on first use (a worker
    process opens its own). Its clips are laid end to end, unchunked, so that reading any
    number of videos keeps no per-video state in memory."""

    def __init__(self, path):
        self.path = path
        self.file = None
        with h5py.File(path, "r") as f:
            self.lengths = f["lengths"][:]
            self.shape = (int(f.attrs["steps"]), f["clips"].shape[1])
        self.starts = np.cumsum(self.lengths) - self.lengths

    def read(self, rows):
        if self.file is None:
            self.file = h5py.File(self.path, "r")
        rows = np.asarray(rows, dtype=np.int64)
        clips = self.file["clips"]
        out = np.zeros((len(rows), *self.shape), dtype=np.float32)
        for i in np.argsort(rows, kind="stable"):
            start, length = self.starts[rows[i]], self.lengths[rows[i]]
            out[i, :length] = clips[start:start + length]
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
