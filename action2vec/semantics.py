"""Analogy tests of section 4.2: WordNet word matrices (4.2.1) and vector arithmetic (4.2.2).

Word matrices: a Wu-Palmer similarity matrix between the class verbs is the ground truth; the
cosine similarity matrix of an embedding (class means of Action2Vec, word vectors, pooled features)
is compared with it by Spearman rank correlation, row by row, averaged over rows.

Synset choice (the paper does not say which sense of a verb it uses): a verb stands for its
FIRST verb synset, ``wordnet.synsets(word, pos="v")[0]``, WordNet's most frequent sense.
"""

import numpy as np
from scipy.stats import spearmanr

from action2vec.labels import class_name, split_name
from action2vec.scoring import normalise


def first_verb_synset(word, wordnet):
    """The most frequent verb sense of a word (see the module docstring)."""
    synsets = wordnet.synsets(word, pos="v")
    if not synsets:
        raise ValueError(f"{word!r} has no verb synset in WordNet; drop it first (in_wordnet)")
    return synsets[0]


def in_wordnet(words, wordnet):
    """Whether each word has a verb synset: the paper removes the names that do not."""
    return [bool(wordnet.synsets(w, pos="v")) for w in words]


def class_verb(name, name_map):
    """The verb of a class name (the name map's, else its first word)."""
    return class_name(name, name_map).verb


def wup_matrix(words, wordnet, simulate_root=True):
    """(n, n) Wu-Palmer similarity between the first verb synsets of ``words``; diagonal 1.

    Verb hierarchies have many roots; with ``simulate_root=False`` two verbs in different
    trees have no common ancestor and NLTK returns None, which counts as similarity 0.0.
    """
    synsets = [first_verb_synset(w, wordnet) for w in words]
    n = len(synsets)
    out = np.eye(n)
    for i in range(n):
        for j in range(i + 1, n):
            sim = synsets[i].wup_similarity(synsets[j], simulate_root=simulate_root)
            out[i, j] = out[j, i] = 0.0 if sim is None else sim
    return out


def cosine_matrix(vectors):
    """(n, n) cosine similarity between the rows of ``vectors``."""
    unit = normalise(np.asarray(vectors, dtype=np.float64))
    return unit @ unit.T


def rowwise_spearman(a, b):
    """Mean over rows of the Spearman correlation between row i of ``a`` and row i of ``b``.

    The diagonal entry of each row is left out: it is the maximum (1) in every similarity
    matrix and would add a shared top rank that inflates every correlation. Rows where either
    side is constant have no rank correlation (scipy gives NaN) and are skipped; NaN when no
    row is left.
    """
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape or a.ndim != 2 or a.shape[0] != a.shape[1]:
        raise ValueError(f"need two square matrices of one shape, got {a.shape} and {b.shape}")
    off = ~np.eye(len(a), dtype=bool)
    values = []
    for row_a, row_b in zip(a[off].reshape(len(a), -1), b[off].reshape(len(b), -1)):
        if np.ptp(row_a) == 0 or np.ptp(row_b) == 0:
            continue
        values.append(spearmanr(row_a, row_b).statistic)
    return float(np.mean(values)) if values else float("nan")


def class_means(embeddings, labels, classes):
    """(len(classes), d): the mean embedding of each class's videos (``labels`` per video)."""
    embeddings, labels = np.asarray(embeddings), np.asarray(labels)
    rows = []
    for name in classes:
        mask = labels == name
        if not mask.any():
            raise ValueError(f"class {name!r} has no videos")
        rows.append(embeddings[mask].mean(0))
    return np.asarray(rows)


def verb_noun(name, name_map=None):
    """(verb, noun) of a class name of the form "verb + object"; None for other names."""
    entry = class_name(name, name_map or {})
    return (entry.verb, entry.noun) if entry.noun else None


def analogy_pairs(classes, name_map=None):
    """(verb, noun1, noun2) for every verb with several nouns among the class names, every
    ordered pair of its nouns, in class order."""
    nouns = {}
    for name in classes:
        parts = verb_noun(name, name_map)
        if parts:
            nouns.setdefault(parts[0], []).append(parts[1])
    return [(verb, n1, n2) for verb, ns in nouns.items() for n1 in ns for n2 in ns if n1 != n2]


def arithmetic(terms, matrix):
    """The vector arithmetic of section 4.2.2 and Table 4's rule: the sum of ``sign * vector``
    over ``terms`` [(sign, vector)], in their order (``verb noun1 - noun1 + noun2`` is
    [(1, class vector), (-1, noun1's), (1, noun2's)]), and the rows of ``matrix`` (class
    vectors) by Euclidean distance to it. Returns (the vector, the row indices nearest first
    (the first of tied rows first), (n,) the distances)."""
    (sign, first), *rest = terms
    vector = np.asarray(first) if sign > 0 else -np.asarray(first)
    for sign, term in rest:
        vector = vector + term if sign > 0 else vector - term
    distance = np.linalg.norm(matrix - vector, axis=1)
    return vector, np.argsort(distance, kind="stable"), distance


def vector_arithmetic(class_vectors, word_vector, classes, name_map=None):
    """The vector arithmetic test: ``verb noun1 - noun1 + noun2``, nearest class (Euclidean)
    among all ``classes``, correct when it is ``verb noun2``.

    ``class_vectors``: {class name: vector}; ``word_vector(noun)``: the noun's vector (a phrase in
    the label space).
    Returns (accuracy in 0-1, or None when there is no pair; one dict per pair).
    """
    classes = list(classes)
    by_parts = {verb_noun(c, name_map): c for c in classes}
    matrix = np.asarray([class_vectors[c] for c in classes], dtype=np.float64)
    rows = []
    for verb, noun1, noun2 in analogy_pairs(classes, name_map):
        _, nearest, _ = arithmetic([(1, class_vectors[by_parts[verb, noun1]]),
                                    (-1, word_vector(noun1)), (1, word_vector(noun2))], matrix)
        predicted = classes[int(nearest[0])]
        rows.append({"verb": verb, "noun1": noun1, "noun2": noun2, "predicted": predicted,
                     "correct": predicted == by_parts[verb, noun2]})
    if not rows:
        return None, []
    return float(np.mean([r["correct"] for r in rows])), rows


def verb_correlation(verbs, phrases, wordnet, simulate_root=True):
    """Table 3's "WordNet vs word vectors" with the verb as the unit: the row-wise Spearman
    correlation between Wu-Palmer similarity and the cosine of the verbs' vectors over distinct
    verbs. ``phrases(word lists)``: their (n, dim) vectors in a label space (vectors.py), here
    each verb alone."""
    verbs = sorted(set(verbs))
    gold = wup_matrix(verbs, wordnet, simulate_root)
    return rowwise_spearman(gold, cosine_matrix(phrases([[v] for v in verbs])))


def wordnet_lemma(name, wordnet):
    """The class name itself as a WordNet verb lemma ("Walking" -> "walking", found as walk;
    "playing piano" -> "playing_piano", not found), or None."""
    lemma = "_".join(split_name(name))
    return lemma if lemma and wordnet.synsets(lemma, pos="v") else None


def label_semantics(classes, name_map, phrases, wordnet, simulate_root=True):
    """The parts of section 4.2 that need no video, for one dataset's class list.

    - ``verbs``: WordNet vs word vectors over the classes' distinct verbs (the unit the
      semantics stage uses with videos);
    - ``names_in_wordnet``: the paper's literal reading, only the class names that are
      themselves in WordNet (mostly one-word names), each with its class vector;
    - ``comparisons``: the number of vector-arithmetic tests (Table 4, first row).

    ``phrases(word lists)`` gives their (n, dim) vectors in a label space (vectors.py).
    """
    verbs = [class_verb(c, name_map) for c in classes]
    lemmas = {c: wordnet_lemma(c, wordnet) for c in classes}
    named = [c for c in classes if lemmas[c]]
    by_name = {"n": len(named), "spearman": None}
    if len(named) > 2:
        gold = wup_matrix([lemmas[c] for c in named], wordnet, simulate_root)
        vectors = phrases([class_name(c, name_map).words for c in named])
        by_name["spearman"] = rowwise_spearman(gold, cosine_matrix(vectors))
    return {"n_classes": len(classes),
            "verbs": {"n": len(set(verbs)),
                      "spearman": verb_correlation(verbs, phrases, wordnet, simulate_root)},
            "names_in_wordnet": by_name,
            "comparisons": len(analogy_pairs(classes, name_map))}
