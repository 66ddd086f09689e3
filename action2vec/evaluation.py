"""Zero-shot recognition (section 4.1): embed test videos of unseen classes, normalise, and
assign the nearest unseen class word vector by cosine similarity."""

import numpy as np


def normalise(x):
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def rank_classes(embeddings, class_vectors):
    """Class indices ordered by cosine similarity, most similar first: (N, n_classes)."""
    sims = normalise(embeddings) @ normalise(class_vectors).T
    return np.argsort(-sims, axis=1, kind="stable")


def top_k_accuracy(embeddings, targets, class_vectors, k):
    """Fraction of videos whose true class is among the k nearest class vectors."""
    ranks = rank_classes(embeddings, class_vectors)[:, :k]
    return float(np.mean((ranks == np.asarray(targets)[:, None]).any(1)))


def pooled(sequences, lengths):
    """Mean of each video's features over its true length (the pooled-feature baseline input)."""
    mask = np.arange(sequences.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return (sequences * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)


def zero_shot_report(embeddings, targets, class_vectors):
    """top-1 and top-5 (capped at the number of classes) accuracy."""
    hits = rank_classes(embeddings, class_vectors) == np.asarray(targets)[:, None]
    k5 = min(5, len(class_vectors))
    return {"top1": float(hits[:, 0].mean()), "top5": float(hits[:, :k5].any(1).mean())}


def single_class_warnings(splits):
    """One warning per ratio whose splits hold out a single class ({ratio: [split, ...]}, each
    with its "unseen" classes): every test video then gets that class, so its top-1 is 1.0 by
    construction and says nothing."""
    warnings = []
    for ratio, drawn in splits.items():
        single = sum(len(split["unseen"]) == 1 for split in drawn)
        if single and ratio != "all":  # "all" trains on every class; nothing is held out
            warnings.append(f"ratio {ratio}: {single} of {len(drawn)} splits hold out a single "
                            "class, whose top-1 is 1.0 by construction; use more classes or a "
                            "larger unseen fraction")
    return warnings


class LaplacianKRR:
    """A fitted Laplacian-regularised kernel ridge regression (see ``fit_laplacian_krr``)."""

    def __init__(self, train, coefficients, gamma):
        self.train, self.coefficients, self.gamma = train, coefficients, gamma

    def predict(self, features):
        from sklearn.metrics.pairwise import rbf_kernel

        kernel = rbf_kernel(np.asarray(features, dtype=np.float64), self.train, gamma=self.gamma)
        return kernel @ self.coefficients


def knn_laplacian(features, neighbours):
    """Unnormalised graph Laplacian D - W of the symmetric kNN graph (0/1 weights)."""
    from sklearn.neighbors import kneighbors_graph

    k = min(neighbours, len(features) - 1)
    graph = kneighbors_graph(features, k, mode="connectivity", include_self=False).toarray()
    graph = np.maximum(graph, graph.T)
    return np.diag(graph.sum(1)) - graph


def fit_laplacian_krr(features, targets, alpha, gamma, laplacian, neighbours):
    """Kernel ridge regression with an RBF kernel and Laplacian (manifold) regularisation: the
    paper's pooled C3D baseline (section 4.1). Laplacian-regularised least squares (Belkin,
    Niyogi, Sindhwani 2006) on the training samples: A = (K + alpha I + laplacian L K)^-1 Y,
    where L is the Laplacian of their symmetric kNN graph; it penalises predictions that differ
    between neighbouring videos. ``laplacian=0`` is plain kernel ridge regression.
    ``gamma=None``: 1 / (n_features * X.var()), as sklearn's "scale".
    """
    from sklearn.metrics.pairwise import rbf_kernel

    x = np.asarray(features, dtype=np.float64)
    y = np.asarray(targets, dtype=np.float64)
    if gamma is None:
        gamma = 1.0 / (x.shape[1] * max(float(x.var()), 1e-12))
    kernel = rbf_kernel(x, gamma=gamma)
    system = kernel + alpha * np.eye(len(x))
    if laplacian:
        system += laplacian * knn_laplacian(x, neighbours) @ kernel
    return LaplacianKRR(x, np.linalg.solve(system, y), gamma)


def confusion(targets, predictions, n_classes):
    """(n_classes, n_classes) counts: row = true class, column = predicted class."""
    out = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(out, (np.asarray(targets, dtype=int), np.asarray(predictions, dtype=int)), 1)
    return out
