import math

import numpy as np
import pytest

from action2vec import wordnet
from action2vec.labels import ClassName
from action2vec.semantics import (analogy_pairs, arithmetic, class_means, class_verb,
                                  cosine_matrix, in_wordnet, label_semantics, rowwise_spearman,
                                  vector_arithmetic, verb_noun, wup_matrix)


@pytest.fixture(scope="module")
def wn():
    return wordnet.load()


def random_matrix(n=8, seed=0):
    return np.random.default_rng(seed).normal(size=(n, n))


def test_identical_matrices_correlate_perfectly():
    a = random_matrix()
    assert rowwise_spearman(a, a) == pytest.approx(1.0)


def test_reversed_ranks_in_every_row_correlate_minus_one():
    a = random_matrix()
    b = np.eye(len(a))  # the diagonal is ignored, so it may stay as it is
    for i, row in enumerate(a):
        off = [j for j in range(len(a)) if j != i]
        order = np.argsort(row[off])
        b[i, np.array(off)[order]] = np.arange(len(off))[::-1]  # highest where a is lowest
    assert rowwise_spearman(a, b) == pytest.approx(-1.0)


def test_shuffled_rows_correlate_clearly_less_than_one():
    a = random_matrix(20)
    rng = np.random.default_rng(1)
    b = np.array([rng.permutation(row) for row in a])
    assert rowwise_spearman(a, b) < 0.5


def test_diagonal_is_left_out():
    a = random_matrix()
    b = a.copy()
    np.fill_diagonal(b, -100.0)  # would be the lowest rank in every row if it counted
    assert rowwise_spearman(a, b) == pytest.approx(1.0)


def test_constant_rows_are_skipped():
    a = random_matrix(4)
    b = a.copy()
    b[0] = 5.0  # no ranks in row 0 of b
    assert rowwise_spearman(a, b) == pytest.approx(1.0)
    assert math.isnan(rowwise_spearman(np.ones((3, 3)), a[:3, :3]))


def test_cosine_matrix_of_known_vectors():
    m = cosine_matrix([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    assert m[0, 1] == pytest.approx(1.0)
    assert m[0, 2] == pytest.approx(0.0)
    assert m[0, 3] == pytest.approx(np.sqrt(0.5))
    assert np.allclose(np.diag(m), 1.0) and np.allclose(m, m.T)


def test_class_means_average_each_class_videos():
    embeddings = np.array([[1.0, 0.0], [3.0, 2.0], [10.0, 10.0]])
    means = class_means(embeddings, ["a", "a", "b"], ["b", "a"])
    assert means.tolist() == [[10.0, 10.0], [2.0, 1.0]]
    with pytest.raises(ValueError, match="'c'"):
        class_means(embeddings, ["a", "a", "b"], ["c"])


def test_analogy_pairs_of_verbs_with_several_nouns():
    pairs = analogy_pairs(["roll ball", "roll box", "throw ball", "spin ring"])
    assert pairs == [("roll", "ball", "box"), ("roll", "box", "ball")]


def test_analogy_pairs_count_every_ordered_pair():
    pairs = analogy_pairs(["throw ball", "throw box", "throw ring", "spin_box", "spin_ring"])
    assert len(pairs) == 3 * 2 + 2 * 1
    assert ("spin", "ring", "box") in pairs


WORLD = ["roll ball", "roll box", "throw ball", "throw box", "throw ring", "spin ring",
         "spin box"]


def compositional(seed=0, dim=16):
    """Word vectors for verbs and nouns, and class vectors that are exactly verb + noun."""
    rng = np.random.default_rng(seed)
    words = {w: rng.normal(size=dim) for name in WORLD for w in name.split()}
    classes = {name: words[name.split()[0]] + words[name.split()[1]] for name in WORLD}
    return words, classes


def test_perfectly_compositional_vectors_pass_every_analogy():
    words, classes = compositional()
    accuracy, rows = vector_arithmetic(classes, words.__getitem__, WORLD)
    assert accuracy == 1.0
    assert len(rows) == len(analogy_pairs(WORLD)) == 2 + 6 + 2
    assert rows[0] == {"verb": "roll", "noun1": "ball", "noun2": "box",
                       "predicted": "roll box", "correct": True}


def test_shuffled_class_vectors_fail_some_analogies():
    words, classes = compositional()
    names = list(classes)
    shuffled = dict(zip(names, [classes[n] for n in np.random.default_rng(2).permutation(names)]))
    accuracy, rows = vector_arithmetic(shuffled, words.__getitem__, WORLD)
    assert accuracy < 1.0
    assert sum(r["correct"] for r in rows) / len(rows) == accuracy


def test_arithmetic_sums_signed_terms_and_orders_rows_by_euclidean_distance():
    rng = np.random.default_rng(3)
    a, b, c = rng.normal(size=(3, 5)).astype(np.float32)
    matrix = rng.normal(size=(6, 5))
    matrix[4] = matrix[1]  # a tie: the first row first
    vector, order, distance = arithmetic([(1, a), (-1, b), (1, c)], matrix)
    want = [a[i] - b[i] + c[i] for i in range(5)]
    assert vector.tolist() == want  # a - b + c, in that order, in the terms' float32
    want_distance = [math.dist(row, want) for row in matrix]
    assert distance.tolist() == pytest.approx(want_distance, rel=1e-12)
    assert order.tolist() == sorted(range(6), key=lambda i: (want_distance[i], i))
    negated, _, _ = arithmetic([(-1, a), (1, c)], matrix)
    np.testing.assert_array_equal(negated, c - a)


def test_no_analogy_pairs_gives_no_accuracy():
    assert vector_arithmetic({"spin ring": np.zeros(2)}, lambda w: np.zeros(2),
                             ["spin ring"]) == (None, [])


def test_class_verb_and_noun_come_from_the_name_map():
    name_map = {"playingpiano": ClassName(["play", "piano"], "play", "piano"),
                "billiards": ClassName(["billiards"], "play", None)}
    assert class_verb("throw_ball", {}) == "throw"
    assert class_verb("PlayingPiano", name_map) == "play"
    assert class_verb("Billiards", name_map) == "play"
    assert verb_noun("PlayingPiano", name_map) == ("play", "piano")
    assert verb_noun("Billiards", name_map) is None  # an inferred verb makes no analogy group
    assert verb_noun("walk", {}) is None


def test_label_semantics_counts_and_correlates_without_video(wn):
    name_map = {"playingpiano": ClassName(["play", "piano"], "play", "piano"),
                "playingviolin": ClassName(["play", "violin"], "play", "violin"),
                "playingflute": ClassName(["play", "flute"], "play", "flute"),
                "billiards": ClassName(["billiards"], "play", None)}
    classes = ["PlayingPiano", "PlayingViolin", "PlayingFlute", "Billiards", "throw ball",
               "Walking", "Running", "Sleeping"]
    rng = np.random.default_rng(0)
    vocab = {}

    def vector(word):
        return vocab.setdefault(word, rng.normal(size=8))

    def phrases(word_lists):  # averaged word vectors
        return np.array([np.mean([vector(w) for w in words], 0) for words in word_lists])

    out = label_semantics(classes, name_map, phrases, wn)
    assert out["n_classes"] == 8
    assert out["comparisons"] == 3 * 2  # play: piano, violin, flute; Billiards has no noun
    verbs = ["play", "running", "sleeping", "throw", "walking"]  # unmapped: the first word
    assert out["verbs"]["n"] == len(verbs)
    expected = rowwise_spearman(wup_matrix(verbs, wn), cosine_matrix([vector(v) for v in verbs]))
    assert out["verbs"]["spearman"] == pytest.approx(expected)
    # One-word names are WordNet verbs; "PlayingPiano" and "throw ball" are not entries.
    assert out["names_in_wordnet"]["n"] == 3 and -1 <= out["names_in_wordnet"]["spearman"] <= 1


def test_wup_matrix_of_real_verbs(wn):
    m = wup_matrix(["throw", "toss", "sleep"], wn)
    assert np.allclose(m, m.T)
    assert np.allclose(np.diag(m), 1.0)
    assert m[0, 1] > m[0, 2] > 0.0


def test_wup_without_simulated_root_has_zero_for_unrelated_verbs(wn):
    with_root = wup_matrix(["throw", "sleep"], wn, simulate_root=True)
    without = wup_matrix(["throw", "sleep"], wn, simulate_root=False)
    assert with_root[0, 1] > 0.0  # a fake common root joins the two verb trees
    assert without[0, 1] == 0.0  # no common ancestor: NLTK's None counts as 0.0


def test_words_without_a_verb_synset(wn):
    assert in_wordnet(["throw", "banana", "xyzzy"], wn) == [True, False, False]
    with pytest.raises(ValueError, match="banana"):
        wup_matrix(["throw", "banana"], wn)
