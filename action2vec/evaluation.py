"""Zero-shot recognition (section 4.1): embed test videos of unseen classes, normalise, and
assign the nearest unseen class word vector by cosine similarity."""

import numpy as np
from sklearn.linear_model import Ridge


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


def fit_ridge(features, word_vectors, alpha):
    """A ridge regression from pooled video features to word vectors."""
    return Ridge(alpha=alpha).fit(features, word_vectors)


def zero_shot_report(embeddings, targets, class_vectors):
    """top-1 and top-5 (capped at the number of classes) accuracy."""
    k5 = min(5, len(class_vectors))
    return {"top1": top_k_accuracy(embeddings, targets, class_vectors, 1),
            "top5": top_k_accuracy(embeddings, targets, class_vectors, k5)}
