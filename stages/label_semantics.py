"""Stage label_semantics: the analogy-test figures that need only class names, word vectors and
WordNet (Table 3 "WordNet vs Word2Vec", Table 4 "Number of Comparisons"), for UCF101, HMDB51
and Kinetics-400 from the packaged class lists, next to the paper's (params: labels.vectors,
semantics). No video is read. Writes metrics/label_semantics.json and prints a table.
"""

import json
import logging

from action2vec import params, wordnet
from action2vec.dataset import packaged_classes
from action2vec.labels import load_vectors, read_name_map
from action2vec.paths import LABEL_SEMANTICS_METRICS
from action2vec.semantics import label_semantics
from action2vec.stage import run, table

DATASETS = ("hmdb51", "ucf101", "kinetics400")
# The paper's figures, with GoogleNews word2vec (300-d): Table 3 row 2 and Table 4 row 1.
PAPER_SPEARMAN = {"hmdb51": 0.2855, "ucf101": 0.2292, "kinetics400": 0.2807}
PAPER_COMPARISONS = {"hmdb51": None, "ucf101": 90, "kinetics400": 1540}
log = logging.getLogger("label_semantics")


def figures(results):
    """The figures as a plain-text table, ours beside the paper's."""
    rows = [["classes", *(results[d]["n_classes"] for d in DATASETS)],
            ["verbs (distinct)", *(results[d]["verbs"]["n"] for d in DATASETS)],
            ["WordNet vs vectors, verbs", *(results[d]["verbs"]["spearman"] for d in DATASETS)],
            ["names in WordNet", *(results[d]["names_in_wordnet"]["n"] for d in DATASETS)],
            ["WordNet vs vectors, names",
             *(results[d]["names_in_wordnet"]["spearman"] for d in DATASETS)],
            ["paper: WordNet vs Word2Vec", *(PAPER_SPEARMAN[d] for d in DATASETS)],
            ["analogy comparisons", *(results[d]["comparisons"] for d in DATASETS)],
            ["paper: comparisons", *(PAPER_COMPARISONS[d] for d in DATASETS)]]
    return table(rows, ["", *DATASETS], digits=4)


def main():
    p = params.load("label_semantics")
    vectors = load_vectors(p["labels"]["vectors"])
    wn = wordnet.load()
    results = {}
    for name in DATASETS:
        results[name] = label_semantics(packaged_classes(name), read_name_map(dataset=name),
                                        lambda w: vectors[w], wn,
                                        p["semantics"]["simulate_root"])
        results[name]["paper"] = {"spearman": PAPER_SPEARMAN[name],
                                  "comparisons": PAPER_COMPARISONS[name]}
    LABEL_SEMANTICS_METRICS.parent.mkdir(exist_ok=True)
    LABEL_SEMANTICS_METRICS.write_text(json.dumps({**results, "word_vectors": p["labels"]["vectors"],
                               "simulate_root": p["semantics"]["simulate_root"]}, indent=1))
    print(figures(results))
    log.info("wrote %s", LABEL_SEMANTICS_METRICS)


if __name__ == "__main__":
    run(main)
