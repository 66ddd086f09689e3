import numpy as np
import pytest

from action2vec.evaluation import fit_ridge, pooled, top_k_accuracy, zero_shot_report

VECTORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def test_perfect_embedding_is_always_right_whatever_its_scale():
    embeddings = VECTORS[[0, 1, 2, 2]] * np.array([[3.0], [0.1], [7.0], [1.0]])
    assert top_k_accuracy(embeddings, [0, 1, 2, 2], VECTORS, 1) == 1.0


def test_wrong_nearest_but_within_top_two():
    embeddings = np.array([[0.9, 0.5, 0.0]])  # nearest class 0; class 1 second
    assert top_k_accuracy(embeddings, [1], VECTORS, 1) == 0.0
    assert top_k_accuracy(embeddings, [1], VECTORS, 2) == 1.0


def test_report_caps_top5_at_the_number_of_classes():
    report = zero_shot_report(np.array([[0.0, 0.0, 1.0]]), [0], VECTORS)
    assert report == {"top1": 0.0, "top5": 1.0}


def test_pooled_means_only_the_true_steps():
    sequences = np.array([[[1.0], [3.0], [0.0]], [[2.0], [2.0], [2.0]]])
    assert pooled(sequences, [2, 3]).ravel().tolist() == [2.0, 2.0]


def test_ridge_recovers_a_linear_map_to_unseen_classes():
    rng = np.random.default_rng(0)
    mapping = rng.normal(size=(6, 3))
    features = rng.normal(size=(40, 6))
    model = fit_ridge(features, features @ mapping, alpha=1e-6)
    test = rng.normal(size=(5, 6))
    assert model.predict(test) == pytest.approx(test @ mapping, abs=1e-4)
