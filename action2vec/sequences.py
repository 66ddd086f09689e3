"""Fixed-length feature sequences (section 3.2): every video padded with zeros or clipped to the
same number of steps (52 in the paper), its true length kept for masking."""

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
