"""PCA of clip features (section 3.2: to 500 dimensions), fitted on a bounded random sample of
clips. The sample is drawn from the shards' index, then read a block at a time into a float64
covariance matrix: the fit holds one block and d x d matrices, whatever the number of videos
and of clips sampled. A sample of fewer clips than values, smaller than that matrix, is
decomposed whole."""

import zipfile
from typing import NamedTuple

import numpy as np

from action2vec import Action2VecError
from action2vec.files import atomic
from action2vec.shards import (ShardWriter, iter_videos, read_attrs, read_rows,
                               shard_paths, summary, video_index)

SAMPLE_BLOCK = 2048  # clip feature vectors of the fit sample read at a time


class Sample(NamedTuple):
    """The clips a PCA is fitted on: ``positions`` (sorted, unique) of the clips of ``videos``
    (Video entries, by id) laid end to end, drawn from their ``total`` clips."""
    videos: list
    positions: np.ndarray
    total: int


def draw_sample(directory, max_samples, seed, videos=None):
    """The Sample of up to ``max_samples`` clips drawn uniformly without replacement with
    ``seed`` from the videos whose ids are in ``videos`` (None: every video), from the shards'
    index alone: no feature is read. The draw is over the clips ordered by video id, then clip,
    so it does not depend on which shard a video is in."""
    index = video_index(directory)
    if videos is not None:
        missing = sorted(set(videos) - set(index))
        if missing:
            raise Action2VecError(f"{directory} has no features for {len(missing)} videos to fit "
                                  f"PCA on, e.g. {missing[:3]}; rerun the splits stage")
        index = {v: index[v] for v in sorted(videos)}
    entries = list(index.values())
    total = sum(v.stop - v.start for v in entries)
    rng = np.random.default_rng(seed)
    chosen = np.sort(rng.choice(total, min(total, max_samples), replace=False))
    return Sample(entries, chosen, total)


def sample_rows(sample, block=SAMPLE_BLOCK):
    """The clip feature vectors of ``sample`` (float32), in its order, ``block`` rows at a time:
    the sample is never held whole."""
    for start in range(0, len(sample.positions), block):
        yield read_rows(sample.videos, sample.positions[start:start + block])


def mean_and_covariance(blocks):
    """(mean, covariance) of the rows of ``blocks``, in float64, the covariance with n - 1
    degrees of freedom (as scikit-learn's PCA). Accumulated a block at a time, so memory holds
    one block and d x d matrices. The rows are shifted by the first block's mean before their
    products are summed, so that features far from zero lose no precision when the mean is
    taken out."""
    n, shift = 0, None
    for block in blocks:
        x = np.array(block, dtype=np.float64)  # a copy, shifted in place
        if shift is None:
            shift = x.mean(0)
            sums, products = np.zeros(len(shift)), np.zeros((len(shift), len(shift)))
        x -= shift
        sums += x.sum(0)
        products += x.T @ x
        n += len(x)
    offset = sums / n
    return shift + offset, (products - n * np.outer(offset, offset)) / (n - 1)


def signed(components):
    """``components`` (rows), each signed so that its entry of largest magnitude (the first
    such) is positive: a fixed sign, scikit-learn's (``svd_flip`` on the components)."""
    largest = np.abs(components).argmax(1)
    return components * np.sign(components[np.arange(len(components)), largest])[:, None]


def top_components(cov, dims):
    """The ``dims`` eigenvectors of ``cov`` of largest eigenvalue as rows (``signed``), and
    their eigenvalues, largest first (negatives left by rounding set to 0). Only those are
    computed, in place (``cov`` is overwritten): at 4096 values, half the time and memory of a
    full eigendecomposition."""
    from scipy.linalg import eigh

    d = len(cov)
    values, vectors = eigh(cov, overwrite_a=True, subset_by_index=[d - dims, d - 1],
                           driver="evr")  # ascending
    return signed(vectors[:, ::-1].T), np.clip(values[::-1], 0, None)


def small_sample_pca(rows, dims):
    """(mean, components, their variances, total variance) of fewer rows than values, from the
    SVD of the centred rows in float64: the same exact PCA as the covariance's, without a d x d
    eigendecomposition, and the rows take less memory than the covariance."""
    x = np.array(rows, dtype=np.float64)  # a copy, centred in place
    mean = x.mean(0)
    x -= mean
    _, singular, vt = np.linalg.svd(x, full_matrices=False)
    variance = singular ** 2 / (len(x) - 1)
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


def fit_pca(directory, dims, max_samples, seed, videos=None, scale=True, block=SAMPLE_BLOCK):
    """A Projection with ``dims`` components: the exact PCA of up to ``max_samples`` clips of
    ``videos`` (ids; None: every video) drawn with ``seed`` (``draw_sample``), computed in
    float64 and kept in float32, as the features. Its mean and covariance are accumulated
    ``block`` clips at a time, then eigendecomposed; a sample of fewer clips than values, smaller
    than the covariance, is decomposed whole (``small_sample_pca``). Each component's entry of
    largest magnitude is positive. Too few feature vectors, or more components than values, is
    an error."""
    sample = draw_sample(directory, max_samples, seed, videos)
    n = len(sample.positions)
    if n < max(dims, 2):
        raise Action2VecError(
            f"pca.dims: {dims} components need at least {max(dims, 2)} clip feature vectors, "
            f"but {directory} has only {sample.total} to fit on; lower pca.dims or add videos")
    dim = summary(sample.videos[0].path).dim  # values per feature vector
    if dims > dim:
        raise Action2VecError(f"pca.dims: {dims} components exceed the {dim} values of each "
                              f"feature vector in {directory}; lower pca.dims")
    if n < dim:
        mean, components, variance, total_variance = small_sample_pca(
            read_rows(sample.videos, sample.positions), dims)
    else:
        mean, cov = mean_and_covariance(sample_rows(sample, block))
        total_variance = np.trace(cov)
        components, variance = top_components(cov, dims)
    factor = 1 / np.sqrt(np.mean(variance)) if scale else 1.0
    return Projection(components.astype(np.float32), mean.astype(np.float32), factor,
                      variance.astype(np.float32), (variance / total_variance).astype(np.float32),
                      n)


def transform_shards(in_dir, out_dir, projection, max_videos):
    """Project every video of ``in_dir`` into shards of ``out_dir``, in video id order, keeping
    ids, labels and metadata. Each video is projected on its own, so its values do not depend on
    the other videos of its shard."""
    attrs = {**read_attrs(shard_paths(in_dir)[0]), "pca_dims": projection.dims}
    with ShardWriter(out_dir, attrs, max_videos) as writer:
        for video, label, features in iter_videos(in_dir):
            writer.add(video, label, projection.transform(features))
