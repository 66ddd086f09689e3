"""Stage label_semantics: the analogy-test figures that need only class names, label vectors and
WordNet (Table 3 "WordNet vs Word2Vec", Table 4 "Number of Comparisons"), for UCF101, HMDB51
and Kinetics-400 from the packaged class lists, next to the paper's (params: labels.vectors,
semantics). Table 3 is computed for labels.vectors and for each label space of
semantics.compare_vectors (e.g. GloVe beside the sentence model minilm). No video is read.
Writes reports/label_semantics.json (labels.vectors' figures at the top, the others' under
"compared") and prints a table.
"""

import json
import logging

from action2vec import params, wordnet
from action2vec.dataset import packaged_classes
from action2vec.labels import read_name_map
from action2vec.paths import LABEL_SEMANTICS_REPORT
from action2vec.semantics import label_semantics
from action2vec.stage import run, table
from action2vec.vectors import load_space

DATASETS = ("hmdb51", "ucf101", "kinetics400")
# The paper's figures, with GoogleNews word2vec (300-d): Table 3 row 2 and Table 4 row 1.
PAPER_SPEARMAN = {"hmdb51": 0.2855, "ucf101": 0.2292, "kinetics400": 0.2807}
PAPER_COMPARISONS = {"hmdb51": None, "ucf101": 90, "kinetics400": 1540}
log = logging.getLogger("label_semantics")


def figures(by_space):
    """The figures as a plain-text table, each label space's Table 3 rows beside the paper's."""
    first = next(iter(by_space.values()))
    rows = [["classes", *(first[d]["n_classes"] for d in DATASETS)],
            ["verbs (distinct)", *(first[d]["verbs"]["n"] for d in DATASETS)],
            ["names in WordNet", *(first[d]["names_in_wordnet"]["n"] for d in DATASETS)]]
    for spec, results in by_space.items():
        rows += [[f"WordNet vs {spec}, verbs",
                  *(results[d]["verbs"]["spearman"] for d in DATASETS)],
                 [f"WordNet vs {spec}, names",
                  *(results[d]["names_in_wordnet"]["spearman"] for d in DATASETS)]]
    rows += [["paper: WordNet vs Word2Vec", *(PAPER_SPEARMAN[d] for d in DATASETS)],
             ["analogy comparisons", *(first[d]["comparisons"] for d in DATASETS)],
             ["paper: comparisons", *(PAPER_COMPARISONS[d] for d in DATASETS)]]
    return table(rows, ["", *DATASETS], digits=4)


def space_figures(spec, wn, simulate_root):
    """{dataset: label_semantics(...)} of the three class lists in one label space."""
    space = load_space(spec)
    return {name: label_semantics(packaged_classes(name), read_name_map(dataset=name),
                                  space.phrases, wn, simulate_root) for name in DATASETS}


def main():
    p = params.load("label_semantics")
    spec, simulate_root = p["labels"]["vectors"], p["semantics"]["simulate_root"]
    specs = [spec] + [s for s in p["semantics"]["compare_vectors"] if s != spec]
    wn = wordnet.load()
    by_space = {s: space_figures(s, wn, simulate_root) for s in specs}
    results = by_space[spec]
    for name in DATASETS:
        results[name]["paper"] = {"spearman": PAPER_SPEARMAN[name],
                                  "comparisons": PAPER_COMPARISONS[name]}
    LABEL_SEMANTICS_REPORT.parent.mkdir(exist_ok=True)
    LABEL_SEMANTICS_REPORT.write_text(json.dumps(
        {**results, "word_vectors": spec, "simulate_root": simulate_root,
         "compared": {s: by_space[s] for s in specs[1:]}}, indent=1))
    print(figures(by_space))
    log.info("wrote %s", LABEL_SEMANTICS_REPORT)


if __name__ == "__main__":
    run(main)
