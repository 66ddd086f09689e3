"""PCA of clip features (section 3.2: to 500 dimensions), fitted on a bounded random sample of
clips so that the fit's memory does not grow with the dataset."""

import zipfile

import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.shards import (ShardWriter, iter_videos, read_attrs, read_rows,
                               shard_paths, video_index)


def sample_rows(directory, max_samples, seed, videos=None):
    """Up to ``max_samples`` clip feature vectors drawn uniformly without replacement, and the
    number of clips, from the videos whose ids are in ``videos`` (None: every video). The draw
    is over the clips ordered by video id, then clip, so it does not depend on which shard a
    video is in."""
    index = video_index(directory)
    if videos is not None:
        missing = sorted(set(videos) - set(index))
        if missing:
            raise Action2VecError(f"{directory} has no features for {len(missing)} videos to fit "
                                  f"PCA on, e.g. {missing[:3]}; rerun the splits stage")
        index = {v: index[v] for v in sorted(videos)}
    videos = list(index.values())
    total = sum(v.stop - v.start for v in videos)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(total, min(total, max_samples), replace=False))
    return read_rows(videos, chosen), total


NOT_A_PROJECTION = "not a PCA projection written by the pca stage"
# numpy reads any file that is neither .npy nor .npz as a pickle, which allow_pickle=False refuses
PICKLE_REFUSED = ("refused: it holds or is read as pickled data, which could run code; nothing "
                  "in it was run")


class Projection:
    """A fitted PCA followed by one global scale, which (with ``pca.scale``) gives the projected
    features unit mean variance: raw fc7 activations are in the tens, which can saturate the
    LSTM gates. Relative variances of the components are kept (no whitening). Whether the scale
    helps is judged on validation classes (see README).

    Held as plain arrays and stored as an .npz archive of them (``save``, ``load``), never as
    a pickle: opening a project's PCA runs no code from it."""

    # The archive's arrays and their number of dimensions.
    ARRAYS = {"components": 2, "mean": 1, "scale": 0, "explained_variance": 1,
              "explained_variance_ratio": 1, "n_samples": 0}

    def __init__(self, components, mean, scale, explained_variance, explained_variance_ratio,
                 n_samples):
        self.components = np.asarray(components)  # (dims, input dim)
        self.mean = np.asarray(mean)  # (input dim,)
        self.scale = float(scale)
        self.explained_variance = np.asarray(explained_variance)
        self.explained_variance_ratio = np.asarray(explained_variance_ratio)
        self.n_samples = int(n_samples)  # feature vectors the PCA was fitted on

    @classmethod
    def from_pca(cls, pca, scale=True):
        """The Projection of a fitted scikit-learn PCA; ``scale=False`` keeps the raw units."""
        factor = 1 / np.sqrt(np.mean(pca.explained_variance_)) if scale else 1.0
        return cls(pca.components_, pca.mean_, factor, pca.explained_variance_,
                   pca.explained_variance_ratio_, pca.n_samples_)

    @property
    def dims(self):
        return self.components.shape[0]

    @property
    def input_dim(self):
        return self.components.shape[1]

    @property
    def variance_kept(self):
        """The fraction of the features' variance the components keep."""
        return float(self.explained_variance_ratio.sum())

    def transform(self, features):
        """(n, input dim) -> (n, dims) float32."""
        return ((features - self.mean) @ self.components.T * self.scale).astype(np.float32)

    def save(self, path):
        """Write the arrays as an .npz archive, atomically. The same arrays give the same
        bytes (the archive's members carry zipfile's fixed default date)."""
        with atomic(path) as tmp, open(tmp, "wb") as f:  # a file: savez would add ".npz"
            np.savez(f, **{name: getattr(self, name) for name in self.ARRAYS})

    @classmethod
    def load(cls, path):
        """The Projection saved at ``path``; anything else (a pickle, missing arrays, wrong
        shapes) is an Action2VecError naming the file. Pickled data is never loaded."""
        arrays = read_npz(path, cls.ARRAYS)
        dims, input_dim = arrays["components"].shape
        shapes = {"mean": (input_dim,), "explained_variance": (dims,),
                  "explained_variance_ratio": (dims,)}
        for name, shape in shapes.items():
            if arrays[name].shape != shape:
                raise Action2VecError(f"{path}: {NOT_A_PROJECTION} ({name} has shape "
                                      f"{arrays[name].shape} but components {(dims, input_dim)})")
        if not dims:
            raise Action2VecError(f"{path}: {NOT_A_PROJECTION} (it has no components)")
        return cls(**arrays)


def read_npz(path, dims):
    """{name: numeric array} of an .npz archive that must hold the arrays named in ``dims``
    (name -> number of dimensions); anything else is an Action2VecError naming the file."""
    what = f"{path}: {NOT_A_PROJECTION}"
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise Action2VecError(f"{what} (a single array, not an .npz archive)")
        with data:
            missing = [name for name in dims if name not in data.files]
            if missing:
                raise Action2VecError(f"{what} (no {', '.join(missing)})")
            arrays = {name: data[name] for name in dims}
    except ValueError as exc:
        if "pickle" in str(exc):
            raise Action2VecError(f"{what} ({PICKLE_REFUSED})") from None
        raise Action2VecError(f"{what} ({exc})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as exc:
        raise Action2VecError(f"{what} ({type(exc).__name__}: {exc})") from None
    for name, array in arrays.items():
        if array.ndim != dims[name] or array.dtype.kind not in "fiu":
            raise Action2VecError(f"{what} ({name} is a {array.ndim}-d {array.dtype} array, "
                                  f"not a {dims[name]}-d numeric one)")
        if not np.isfinite(array).all():
            raise Action2VecError(f"{what} ({name} has values that are not finite)")
    return arrays


def fit_pca(directory, dims, max_samples, seed, videos=None, scale=True):
    """A Projection with ``dims`` components fitted on the clips of ``videos`` (ids; None: every
    video); too few feature vectors for that is an error."""
    from sklearn.decomposition import PCA  # here: slow to import, and only fitting needs it

    sample, total = sample_rows(directory, max_samples, seed, videos)
    if len(sample) < dims:
        raise Action2VecError(
            f"pca.dims: {dims} components need at least {dims} clip feature vectors, but "
            f"{directory} has only {total} to fit on; lower pca.dims or add videos")
    pca = PCA(n_components=dims, svd_solver="randomized", random_state=seed)
    return Projection.from_pca(pca.fit(sample), scale)


def transform_shards(in_dir, out_dir, projection, max_videos):
    """Project every video of ``in_dir`` into shards of ``out_dir``, in video id order, keeping
    ids, labels and metadata. Each video is projected on its own, so its values do not depend on
    the other videos of its shard."""
    attrs = {**read_attrs(shard_paths(in_dir)[0]), "pca_dims": projection.dims}
    with ShardWriter(out_dir, attrs, max_videos) as writer:
        for video, label, features in iter_videos(in_dir):
            writer.add(video, label, projection.transform(features))
