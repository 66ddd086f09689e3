"""Stage semantics: the analogy tests of section 4.2 on the model trained on every class
(data/train/action2vec/all) (params: labels.vectors, labels.name_map, semantics.simulate_root;
features.backbone and features.layer, recorded beside the pooled features' score). A verb or a
noun is embedded as a phrase in the label space (labels.vectors).

- Word matrices (4.2.1, Table 3): Wu-Palmer similarity between the verbs (the gold standard)
  against the cosine similarity of Action2Vec, the word vectors and the backbone's raw features
  pooled over time, by row-wise Spearman correlation. Class names of several words are not
  WordNet entries, so the unit is the verb: a verb's vector is the mean over all videos of the
  classes with that verb.
- Vector arithmetic (4.2.2, Table 4): ``verb noun1 - noun1 + noun2`` -> nearest class.
- Figure 2: t-SNE of the class embeddings.
Writes reports/wordnet.json, reports/analogy.json, their headline figures in
metrics/semantics.json, plots/analogy.csv and plots/tsne.png.
"""

import json
import logging

import numpy as np
import pandas as pd

from action2vec import Action2VecError, baseline, params, wordnet
from action2vec.dataset import name_map_rows
from action2vec.labels import read_classes, read_name_map
from action2vec.paths import (ANALOGY_EXAMPLES, ANALOGY_REPORT, CLASSES, EMBEDDINGS, FEATURES,
                              SEMANTICS_METRICS, SEQUENCES, TSNE, WORDNET_REPORT)
from action2vec.plots import tsne_png
from action2vec.semantics import (class_means, class_verb, cosine_matrix, in_wordnet,
                                  rowwise_spearman, vector_arithmetic, wup_matrix)
from action2vec.sequences import read_index
from action2vec.stage import run
from action2vec.vectors import load_space

log = logging.getLogger("semantics")


def verb_matrices(a2v, features, video_verbs, verbs, space, wn, simulate_root):
    """Row-wise Spearman of each embedding's verb similarity matrix against Wu-Palmer's (the
    label space's: each verb embedded alone, as a one-word phrase)."""
    gold = wup_matrix(verbs, wn, simulate_root)
    candidates = {"action2vec": class_means(a2v, video_verbs, verbs),
                  "word2vec": space.phrases([[v] for v in verbs]),
                  baseline.NAME: class_means(features, video_verbs, verbs)}
    return {name: rowwise_spearman(gold, cosine_matrix(m)) for name, m in candidates.items()}


def main():
    p = params.load("semantics")
    saved = np.load(EMBEDDINGS)
    index = read_index(SEQUENCES)
    if list(saved["video_id"]) != index.video_id:
        raise Action2VecError(f"{EMBEDDINGS} and {SEQUENCES} list different videos; "
                              "rerun the train stage")
    classes = read_classes(CLASSES).names
    name_map = read_name_map(p["labels"]["name_map"],
                             dataset=name_map_rows(p["dataset"]["name"]))
    space = load_space(p["labels"]["vectors"])
    wn = wordnet.load()

    video_verbs = np.array([class_verb(c, name_map) for c in saved["label"]])
    all_verbs = sorted(set(video_verbs))
    verbs = [v for v, ok in zip(all_verbs, in_wordnet(all_verbs, wn)) if ok]
    keep = np.isin(video_verbs, verbs)
    features = baseline.pooled_features(FEATURES, index)
    scores = verb_matrices(saved["embedding"][keep], features[keep],
                           video_verbs[keep], verbs, space, wn, p["semantics"]["simulate_root"])
    WORDNET_REPORT.parent.mkdir(exist_ok=True)
    WORDNET_REPORT.write_text(json.dumps({**scores, **baseline.features_used(p["features"]),
                                           "n_classes": len(verbs), "unit": "verb",
                                           "word_vectors": p["labels"]["vectors"],
                                           "simulate_root": p["semantics"]["simulate_root"]},
                                          indent=1))

    means = dict(zip(classes, class_means(saved["embedding"], saved["label"], classes)))

    def noun_vector(noun):  # a noun may be a phrase ("eye makeup")
        return space.phrase(noun.split())

    accuracy, rows = vector_arithmetic(means, noun_vector, classes, name_map)
    ANALOGY_REPORT.write_text(json.dumps({"n_comparisons": len(rows), "accuracy": accuracy}, indent=1))
    SEMANTICS_METRICS.parent.mkdir(exist_ok=True)
    SEMANTICS_METRICS.write_text(json.dumps({"wordnet": scores, "analogy": {"accuracy": accuracy}},
                                            indent=1))
    ANALOGY_EXAMPLES.parent.mkdir(exist_ok=True)
    pd.DataFrame(rows, columns=["verb", "noun1", "noun2", "predicted", "correct"]).to_csv(
        ANALOGY_EXAMPLES, index=False)
    tsne_png(TSNE, np.array([means[c] for c in classes]), classes, p["seed"],
             "Action2Vec class embeddings (t-SNE)")
    log.info("WordNet Spearman: %s; analogy %s of %d", scores, accuracy, len(rows))


if __name__ == "__main__":
    run(main)
