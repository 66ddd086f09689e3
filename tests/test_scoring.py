"""scoring.py: ranking by cosine, top-k, generalized zero-shot accuracy, calibrated stacking,
bootstrap intervals and the confusion matrix, checked against hand-computed values."""

import numpy as np
import pytest

from action2vec.scoring import (TOP5_UNDEFINED, bootstrap_interval, confusion, gzsl_report, top_k, top_k_accuracy,
                                zero_shot_report)

VECTORS = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def test_perfect_embedding_is_always_right_whatever_its_scale():
    embeddings = VECTORS[[0, 1, 2, 2]] * np.array([[3.0], [0.1], [7.0], [1.0]])
    assert top_k_accuracy(embeddings, [0, 1, 2, 2], VECTORS, 1) == 1.0


def test_wrong_nearest_but_within_top_two():
    embeddings = np.array([[0.9, 0.5, 0.0]])  # nearest class 0; class 1 second
    assert top_k_accuracy(embeddings, [1], VECTORS, 1) == 0.0
    assert top_k_accuracy(embeddings, [1], VECTORS, 2) == 1.0


def test_top_k_ranks_names_by_cosine_leaves_out_excluded_and_keeps_ties_in_order():
    names = ["a", "b", "c", "d"]
    matrix = np.array([[1.0, 0.0], [0.0, 2.0], [3.0, 3.0], [0.0, 5.0]])  # b and d tie
    got = top_k(np.array([0.0, 0.5]), names, matrix, 3)
    assert [n for n, _ in got] == ["b", "d", "c"]
    assert [c for _, c in got] == pytest.approx([1.0, 1.0, 2 ** -0.5])
    assert [n for n, _ in top_k(np.array([0.0, 0.5]), names, matrix, 2, exclude={"b"})] == ["d", "c"]


def test_top5_is_null_with_five_or_fewer_classes_and_counted_above():
    # One video scored against one-hot classes: similarity 6 > 5 > ... > 1, so class i is
    # ranked i-th; the true classes 0, 4 and 5 are ranked 1st, 5th and 6th.
    embeddings = np.tile([6.0, 5.0, 4.0, 3.0, 2.0, 1.0], (3, 1))
    assert zero_shot_report(embeddings, [0, 4, 5], np.eye(6)) == {"top1": 1 / 3, "top5": 2 / 3}
    five = zero_shot_report(embeddings[:, :5], [0, 4, 3], np.eye(5))
    assert five == {"top1": 1 / 3, "top5": None}
    assert zero_shot_report(np.array([[0.0, 0.0, 1.0]]), [0], VECTORS)["top5"] is None
    assert "5 or fewer" in TOP5_UNDEFINED and "1.0" in TOP5_UNDEFINED


def test_gzsl_averages_per_class_accuracy_over_seen_and_unseen_classes():
    # Classes 0, 1 seen; 2, 3 unseen. Each video's embedding is its predicted class's vector.
    targets = [0, 0, 1, 2, 2, 2, 3]
    predicted = [0, 2, 1, 2, 2, 0, 1]
    report = gzsl_report(np.eye(4)[predicted], targets, np.eye(4), [True, True, False, False])
    # seen: class 0 1/2, class 1 1/1 -> 3/4 (per video it would be 2/3);
    # unseen: class 2 2/3, class 3 0/1 -> 1/3 (per video 1/2); harmonic 2su/(s+u) = 6/13.
    assert report == pytest.approx({"seen": 3 / 4, "unseen": 1 / 3, "harmonic": 6 / 13})


def test_gzsl_harmonic_is_zero_when_both_sides_miss_and_null_without_seen_videos():
    wrong = gzsl_report(np.eye(2)[[1, 0]], [0, 1], np.eye(2), [True, False])
    assert wrong == {"seen": 0.0, "unseen": 0.0, "harmonic": 0.0}
    unseen_only = gzsl_report(np.eye(2)[[1]], [1], np.eye(2), [True, False])
    assert unseen_only == {"seen": None, "unseen": 1.0, "harmonic": None}


def test_bootstrap_resamples_splits():
    # Two splits scoring 1 and 0: a resample averages 2 drawn splits -> 0, 0.5 or 1 with
    # chances 1/4, 1/2, 1/4, so the 95% interval is (0, 1). Rows alone would give (0.5, 0.5).
    samples = [np.ones(10), np.zeros(10)]
    assert bootstrap_interval(samples, np.mean, 1000, seed=0) == (0.0, 1.0)


def test_bootstrap_resamples_rows_and_narrows_with_more_of_them():
    # One split, half its videos right: the mean of n resampled rows has standard deviation
    # sqrt(0.25 / n), so the 95% interval is about 0.5 +- 1.96 * 0.05 at n = 100, half that
    # at n = 400.
    low, high = bootstrap_interval([np.tile([0.0, 1.0], 50)], np.mean, 2000, seed=1)
    assert low < 0.5 < high and 0.16 < high - low < 0.24
    low4, high4 = bootstrap_interval([np.tile([0.0, 1.0], 200)], np.mean, 2000, seed=1)
    assert 0.08 < high4 - low4 < 0.12


def test_bootstrap_contains_the_estimate_and_is_seeded():
    rng = np.random.default_rng(3)
    samples = [rng.random(n) < p for n, p in [(12, 0.3), (30, 0.6), (7, 0.5), (20, 0.4)]]
    estimate = np.mean([rows.mean() for rows in samples])
    low, high = bootstrap_interval(samples, np.mean, 500, seed=7)
    assert low <= estimate <= high
    assert bootstrap_interval(samples, np.mean, 500, seed=7) == (low, high)
    assert bootstrap_interval(samples, np.mean, 500, seed=8) != (low, high)
    assert bootstrap_interval(samples, np.mean, 0, seed=7) == (None, None)


def test_confusion_counts_by_hand():
    matrix = confusion([0, 0, 1, 2, 2, 2], [0, 1, 1, 2, 0, 2], 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [1, 0, 2, 0], [0, 0, 0, 0]]


def test_harmonic_of_two_sides():
    from action2vec.scoring import harmonic
    assert harmonic(0.5, 0.25) == pytest.approx(2 * 0.5 * 0.25 / 0.75)
    assert harmonic(0.0, 0.0) == 0.0 and harmonic(None, 0.3) is None


def test_calibrated_stacking_moves_videos_off_the_seen_classes():
    """Two seen classes (0, 1) and one other (2): every video's seen cosine beats the other by
    a margin, so plain GZSL never predicts class 2; a gamma above the margins of class 2's
    videos and below those of the seen videos gets every video right."""
    from action2vec.scoring import choose_gamma, gzsl_report
    vectors = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    seen_mask = [True, True, False]
    embeddings = np.array([[1.0, 0.0, 0.1], [0.0, 1.0, 0.1],     # seen: margins about 0.9
                           [0.6, 0.0, 0.5], [0.0, 0.6, 0.5]])    # class 2: margins about 0.1
    targets = [0, 1, 2, 2]
    assert gzsl_report(embeddings, targets, vectors, seen_mask)["unseen"] == 0.0
    gamma = choose_gamma(embeddings, targets, vectors, seen_mask)
    assert 0.1 < gamma < 0.9
    assert gzsl_report(embeddings, targets, vectors, seen_mask, gamma)["harmonic"] == 1.0
    assert choose_gamma(embeddings[:2], targets[:2], vectors, seen_mask) == 0.0  # one side


def test_bootstrap_aggregates_as_asked():
    """The aggregate over the drawn splits is what is resampled, not always their mean."""
    samples = [np.zeros(5), np.ones(5), np.ones(5)]
    assert bootstrap_interval(samples, np.mean, 200, 0, aggregate=len) == (3.0, 3.0)
    low, high = bootstrap_interval(samples, np.mean, 200, 0,
                                   aggregate=lambda values: 10 * min(values))
    assert (low, high) == (0.0, 10.0)
