"""PCA of clip features (section 3.2: to 500 dimensions), fitted on a bounded random sample of
clips, read a block at a time into a float64 covariance matrix: the fit holds one block and
d x d matrices, whatever the number of clips (the sample is never held whole)."""

import zipfile

import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.shards import (ShardWriter, iter_videos, read_attrs, read_rows,
                               shard_paths, video_index)


SAMPLE_BLOCK = 2048  # clip feature vectors of the fit sample read at a time


def sample_positions(directory, max_samples, seed, videos=None):
    """The videos (Video entries, ordered by id) of the ids in ``videos`` (None: every video),
    the positions of up to ``max_samples`` of their clips drawn uniformly without replacement
    (sorted), and the number of clips. The draw is over the clips ordered by video id, then
    clip, so it does not depend on which shard a video is in."""
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
    return videos, chosen, total


def sample_rows(directory, max_samples, seed, videos=None):
    """The clip feature vectors of ``sample_positions`` (float32, held whole), and the number
    of clips."""
    entries, chosen, total = sample_positions(directory, max_samples, seed, videos)
    return read_rows(entries, chosen), total


def sample_blocks(videos, chosen, size=SAMPLE_BLOCK):
    """The rows at ``chosen`` (as ``read_rows``), ``size`` at a time."""
    for start in range(0, len(chosen), size):
        yield read_rows(videos, chosen[start:start + size])


def covariance(blocks):
    """(mean, covariance with n - 1, n) of the rows of ``blocks``, accumulated in float64. The
    rows are shifted by the first block's mean before their products are summed, so that
    features far from zero lose no precision to the subtraction of the mean."""
    shift = total = products = None
    n = 0
    for block in blocks:
        x = np.asarray(block, dtype=np.float64)
        if shift is None:
            shift = x.mean(0)
            total, products = np.zeros(x.shape[1]), np.zeros((x.shape[1], x.shape[1]))
        x -= shift
        total += x.sum(0)
        products += x.T @ x
        n += len(x)
    offset = total / n
    return shift + offset, (products - n * np.outer(offset, offset)) / max(n - 1, 1), n


def signed(components):
    """``components`` (rows) each signed so that its entry of largest magnitude is positive: a
    fixed sign, as scikit-learn's."""
    largest = np.abs(components).argmax(1)
    return components * np.sign(components[np.arange(len(components)), largest])[:, None]


def principal_components(cov, dims):
    """The ``dims`` eigenvectors of ``cov`` of largest eigenvalue (those alone are computed), as
    rows (``signed``), and their eigenvalues."""
    from scipy.linalg import eigh  # here: only fitting needs it

    values, vectors = eigh(cov, subset_by_index=[len(cov) - dims, len(cov) - 1])
    return signed(vectors[:, ::-1].T), np.clip(values[::-1], 0, None)


def small_sample_pca(sample, dims):
    """(mean, components, their variances, total variance) of a sample with fewer rows than
    values, from the SVD of the centred sample in float64: the same PCA as the covariance's,
    at a fraction of its d x d eigendecomposition's cost, and held in no more memory."""
    x = np.asarray(sample, dtype=np.float64)
    mean = x.mean(0)
    x -= mean
    _, singular, vt = np.linalg.svd(x, full_matrices=False)
    variance = singular ** 2 / max(len(x) - 1, 1)
    return mean, signed(vt[:dims]), variance[:dims], variance.sum()


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
    """A Projection with ``dims`` components fitted on up to ``max_samples`` clips of ``videos``
    (ids; None: every video) drawn with ``seed``: the exact PCA of the sample, computed in
    float64 and kept in float32. The covariance matrix is accumulated a block of the sample at
    a time, so the fit's memory is that of d x d matrices whatever the sample's size; a sample
    of fewer clips than values is no larger than those, and is decomposed whole. Too few
    feature vectors, or more components than feature values, is an error."""
    entries, chosen, total = sample_positions(directory, max_samples, seed, videos)
    if len(chosen) < dims:
        raise Action2VecError(
            f"pca.dims: {dims} components need at least {dims} clip feature vectors, but "
            f"{directory} has only {total} to fit on; lower pca.dims or add videos")
    dim = read_rows(entries, chosen[:1]).shape[1]  # values per feature vector
    if dims > dim:
        raise Action2VecError(f"pca.dims: {dims} components exceed the {dim} values of each "
                              f"feature vector in {directory}; lower pca.dims")
    if len(chosen) < dim:
        mean, components, variance, total_variance = small_sample_pca(
            read_rows(entries, chosen), dims)
    else:
        mean, cov, _ = covariance(sample_blocks(entries, chosen))
        components, variance = principal_components(cov, dims)
        total_variance = np.trace(cov)
    factor = 1 / np.sqrt(np.mean(variance)) if scale else 1.0
    # stored in float32, as the features: the projection then runs in float32
    return Projection(components.astype(np.float32), mean.astype(np.float32), factor,
                      variance.astype(np.float32), (variance / total_variance).astype(np.float32),
                      len(chosen))


def transform_shards(in_dir, out_dir, projection, max_videos):
    """Project every video of ``in_dir`` into shards of ``out_dir``, in video id order, keeping
    ids, labels and metadata. Each video is projected on its own, so its values do not depend on
    the other videos of its shard."""
    attrs = {**read_attrs(shard_paths(in_dir)[0]), "pca_dims": projection.dims}
    with ShardWriter(out_dir, attrs, max_videos) as writer:
        for video, label, features in iter_videos(in_dir):
            writer.add(video, label, projection.transform(features))
