"""The evaluate stage's aggregates (scoring.py's score_split and summarise), recomputed from the
saved embeddings with code of their own: plain loops over videos and classes and the statistics
module; nothing of action2vec.scoring is used to compute an expected value."""

import json
import math
import statistics

import numpy as np
import pytest

from action2vec import scoring
from action2vec.labels import read_classes
from action2vec.paths import CLASSES, ZSL_METRICS, ZSL_REPORT, baseline_dir, run_dir, split_file
from conftest import TINY



def cosine(a, b):
    a, b = [float(x) for x in a], [float(x) for x in b]
    dot = sum(x * y for x, y in zip(a, b))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def best(embedding, names, vectors, minus=None):
    """The name whose vector is nearest by cosine (the first of ties), less ``minus[name]``."""
    minus = minus or {}
    scores = [cosine(embedding, vectors[n]) - minus.get(n, 0.0) for n in names]
    return names[scores.index(max(scores))]


def share_right(embeddings, labels, names, vectors):
    right = [best(e, names, vectors) == label for e, label in zip(embeddings, labels)]
    return sum(right) / len(right)


def per_class_mean(pairs):
    """Mean over true classes of the share of their (true, predicted) pairs that are right."""
    by_class = {}
    for true, guess in pairs:
        by_class.setdefault(true, []).append(true == guess)
    return statistics.fmean(sum(v) / len(v) for v in by_class.values())


def saved(repo, variant, ratio, k):
    directory = baseline_dir(ratio) if variant == "pooled" else run_dir(variant, ratio)
    with np.load(repo / split_file(directory, k, ".npz")) as f:
        return {key: f[key] for key in f.files}


def test_the_zero_shot_report_is_what_the_saved_embeddings_give(pipeline):
    repo = pipeline.root
    report = json.loads((repo / ZSL_REPORT).read_text())
    splits = json.loads((repo / "data/splits.json").read_text())
    vectors = read_classes(repo / CLASSES).vectors  # {class: label vector}
    for ratio in TINY["zsl"]["ratios"]:
        for variant in TINY["zsl"]["variants"] + ["pooled"]:
            top1, valid, selected = [], [], []
            for k, split in enumerate(splits[ratio]):
                f = saved(repo, variant, ratio, k)
                test, held = f["role"] == "unseen", f["role"] == "validation"
                top1.append(share_right(f["embedding"][test], f["label"][test], split["unseen"],
                                        vectors))
                right = share_right(f["embedding"][held], f["label"][held], split["validation"],
                                    vectors)
                if variant == "pooled":
                    valid.append(right)
                else:
                    selected.append(right)
                    history = json.loads((repo / split_file(run_dir(variant, ratio), k,
                                                            ".json")).read_text())
                    valid.append(statistics.fmean(history[-1]["validation_hits"]))
                    assert history[-1]["validation_top1"] == valid[-1]
                    assert all("validation_hits" not in row for row in history[:-1])
            figures = report[ratio][variant]
            assert figures["top1_mean"] == pytest.approx(statistics.fmean(top1), abs=1e-12)
            assert figures["top1_std"] == pytest.approx(statistics.stdev(top1), abs=1e-12)
            assert figures["validation_top1_mean"] == pytest.approx(statistics.fmean(valid),
                                                                    abs=1e-12)
            if selected:
                assert figures["validation_top1_selected_mean"] == pytest.approx(
                    statistics.fmean(selected), abs=1e-12)
            else:
                assert "validation_top1_selected_mean" not in figures
        chance = report[ratio]["chance"]
        assert chance["top1_mean"] == pytest.approx(
            statistics.fmean(1 / len(s["unseen"]) for s in splits[ratio]))
    headline = json.loads((repo / ZSL_METRICS).read_text())
    assert set(headline["definitions"]) >= {"top1_mean", "gzsl_harmonic", "chance"}
    assert set(report["definitions"]) >= {"NAME_std", "gzsl_harmonic", "validation_top1_selected"}


def test_the_negative_control_scores_at_chance(pipeline):
    """Labels permuted among the training videos: its top-1 interval holds chance."""
    report = json.loads((pipeline.root / ZSL_REPORT).read_text())
    for ratio in TINY["zsl"]["ratios"]:
        control, chance = report[ratio]["shuffled_labels"], report[ratio]["chance"]["top1_mean"]
        assert control["top1_low"] <= chance <= control["top1_high"]


def synthetic_split(rng, k):
    """A split of 4 seen, 2 validation and 3 unseen classes in 3-d, with 4 held-out videos per
    seen class, 3 videos per validation and unseen class, embeddings near their class vector."""
    seen, validation, unseen = ["a", "b", "c", "d"], ["e", "f"], ["g", "h", "i"]
    ids, roles, labels = [], [], []
    for names, role, n in ((seen, "held_out", 4), (validation, "validation", 3),
                           (unseen, "unseen", 3)):
        for c in names:
            for j in range(n):
                ids.append(f"{k}-{c}-{j}")
                roles.append(role)
                labels.append(c)
    split = {"seen": seen, "validation": validation, "unseen": unseen,
             "held_out": [i for i, r in zip(ids, roles) if r == "held_out"]}
    return split, ids, roles, labels


def test_generalized_aggregates_by_an_independent_computation():
    rng = np.random.default_rng(5)
    names = list("abcdefghi")
    vectors = {c: rng.normal(size=3).tolist() for c in names}
    scored, independent = [], []
    for k in range(3):
        split, ids, roles, labels = synthetic_split(rng, k)
        embedding = np.array([np.array(vectors[c]) + rng.normal(scale=1.2, size=3)
                              for c in labels])
        saved_split = {"video_id": np.array(ids), "role": np.array(roles),
                       "label": np.array(labels), "embedding": embedding}
        scored.append(scoring.score_split(saved_split, split, vectors, None))
        candidates = split["seen"] + split["unseen"]  # never the validation classes
        pairs = [(label, best(e, candidates, vectors)) for e, label, role in
                 zip(embedding, labels, roles) if role in ("held_out", "unseen")]
        s = per_class_mean([p for p in pairs if p[0] in split["seen"]])
        u = per_class_mean([p for p in pairs if p[0] in split["unseen"]])
        independent.append((s, u))
    figures = scoring.summarise(scored, 200, 0)
    s_mean = statistics.fmean(s for s, _ in independent)
    u_mean = statistics.fmean(u for _, u in independent)
    assert figures["gzsl_seen_mean"] == pytest.approx(s_mean, abs=1e-12)
    assert figures["gzsl_unseen_mean"] == pytest.approx(u_mean, abs=1e-12)
    assert figures["gzsl_seen_std"] == pytest.approx(statistics.stdev(s for s, _ in independent))
    assert figures["gzsl_harmonic"] == pytest.approx(2 * s_mean * u_mean / (s_mean + u_mean))
    per_split = [2 * s * u / (s + u) if s + u else 0.0 for s, u in independent]
    assert figures["gzsl_harmonic_split_mean"] == pytest.approx(statistics.fmean(per_split))
    assert figures["gzsl_harmonic_low"] <= figures["gzsl_harmonic_high"]


def test_calibrated_stacking_applies_each_folds_gamma_to_the_other_fold():
    """Recomputed by hand: gamma_f from fold f and the validation classes, by a search of its
    own over a fine grid (the H it reaches must equal choose_gamma's), applied to the other
    fold's held-out videos; the unseen-class videos get the mean gamma."""
    rng = np.random.default_rng(4)  # a draw whose two folds choose different gammas
    names = list("abcdefghi")
    vectors = {c: rng.normal(size=3).tolist() for c in names}
    split, ids, roles, labels = synthetic_split(rng, 0)
    embedding = np.array([np.array(vectors[c]) + rng.normal(scale=1.0, size=3) for c in labels])
    f = {"video_id": np.array(ids), "role": np.array(roles), "label": np.array(labels),
         "embedding": embedding}
    rows, gammas = scoring.calibrated_rows(f, split, vectors)
    assert abs(gammas[0] - gammas[1]) > 0.1
    fold = {}
    for c in split["seen"]:
        mine = sorted(i for i, label, r in zip(ids, labels, roles)
                      if label == c and r == "held_out")
        fold.update({v: j % 2 for j, v in enumerate(mine)})

    def h_at(g, chosen, others):
        minus = {c: g for c in split["seen"]}
        pairs = [(label, best(e, split["seen"] + others, vectors, minus)) for e, label in chosen]
        s = per_class_mean([p for p in pairs if p[0] in split["seen"]])
        u = per_class_mean([p for p in pairs if p[0] not in split["seen"]])
        return 2 * s * u / (s + u) if s + u else 0.0

    for k in (0, 1):  # each gamma reaches the best H on its fold and the validation classes
        chosen = [(e, label) for e, label, r, i in zip(embedding, labels, roles, ids)
                  if r == "validation" or fold.get(i) == k]
        top = max(h_at(g, chosen, split["validation"]) for g in np.linspace(-1, 1, 2001))
        assert h_at(gammas[k], chosen, split["validation"]) >= top - 1e-12
        assert h_at(gammas[k], chosen, split["validation"]) > h_at(0.0, chosen,
                                                                   split["validation"])
    expected = []
    for k, g in ((1, gammas[0]), (0, gammas[1]), (None, statistics.fmean(gammas))):
        for e, label, r, i in zip(embedding, labels, roles, ids):
            if (k is None and r == "unseen") or (k is not None and fold.get(i) == k):
                guess = best(e, split["seen"] + split["unseen"], vectors,
                             {c: g for c in split["seen"]})
                expected.append((label, guess))
    index = split["seen"] + split["unseen"]
    assert [(index[t], index[p]) for t, p, _ in rows] == expected
