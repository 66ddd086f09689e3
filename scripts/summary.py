"""Print the pipeline's figures as short tables (what `make run` shows at the end), from the
reports (reports/*.json: every figure, where the metrics hold the headline ones)."""

import json

from action2vec import baseline
from action2vec.paths import (ANALOGY_REPORT, LABEL_SEMANTICS_REPORT, WORDNET_REPORT,
                              ZSL_REPORT)
from action2vec.stage import table

LABEL_DATASETS = ("hmdb51", "ucf101", "kinetics400")


def read(path):
    return json.loads(path.read_text()) if path.is_file() else None


def label(name, entry):
    """A score's label, with the backbone and layer its entry records: "pooled (c3d fc7)"."""
    used = [entry[k] for k in ("backbone", "layer") if k in entry]
    return f"{name} ({' '.join(used)})" if used else name


def interval(m, name):
    """" [low, high]" of a score's confidence interval, or "" without one."""
    low, high = m.get(f"{name}_low"), m.get(f"{name}_high")
    return "" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"


def by_variant(zsl, title, cell):
    """One row per variant, one column per ratio, of ``cell(metrics, variant)``."""
    ratios = list(zsl)
    variants = list(dict.fromkeys(v for r in ratios for v in zsl[r]))
    labels = {v: label(v, next(zsl[r][v] for r in ratios if v in zsl[r])) for v in variants}
    rows = [[labels[v], *("-" if zsl[r].get(v) is None else cell(zsl[r][v], v) for r in ratios)]
            for v in variants]
    return f"{title}\n" + table(rows, ["variant", *ratios], right=[False] + [True] * len(ratios))


def zero_shot(zsl):
    """Top-1 mean ± std and interval per variant (rows) and ratio (columns), as in Table 1."""
    def cell(m, v):
        if v == "chance":
            return f"{m['top1_mean']:.3f}"
        return f"{m['top1_mean']:.3f} ± {m['top1_std']:.3f}{interval(m, 'top1')}"
    return by_variant(zsl, "zero-shot top-1 (mean ± std over splits [95% bootstrap interval])",
                      cell)


def generalized(zsl):
    """Validation top-1 and generalized zero-shot seen / unseen / harmonic mean."""
    def cell(m, v):
        scores = [m.get(f"{k}_mean") for k in ("validation_top1", "gzsl_seen", "gzsl_unseen",
                                                "gzsl_harmonic")]
        return " / ".join("-" if s is None else f"{s:.3f}" for s in scores)
    return by_variant(zsl, "validation top-1 / generalized zero-shot seen / unseen / harmonic",
                      cell)


def main():
    zsl, wordnet, analogy = read(ZSL_REPORT), read(WORDNET_REPORT), read(ANALOGY_REPORT)
    if zsl:
        print(zero_shot(zsl), end="\n\n")
        print(generalized(zsl), end="\n\n")
    if wordnet:
        print(f"WordNet vs embeddings ({wordnet['n_classes']} verbs, Spearman): " +
              ", ".join(f"{label(k, wordnet if k == baseline.NAME else {})} {wordnet[k]:.3f}"
                        for k in ("word2vec", "action2vec", baseline.NAME)))
    if analogy:
        acc = analogy["accuracy"]
        print(f"vector arithmetic: {analogy['n_comparisons']} comparisons, accuracy "
              f"{'-' if acc is None else f'{acc:.3f}'}")
    labels = read(LABEL_SEMANTICS_REPORT)
    if labels:
        print(f"\nfrom class names alone (WordNet vs {labels['word_vectors']} over verbs; analogy "
              "comparisons):")
        for name in LABEL_DATASETS:
            d = labels[name]
            print(f"  {name:12s} {d['verbs']['spearman']:.4f} (paper {d['paper']['spearman']})"
                  f"  {d['comparisons']} (paper {d['paper']['comparisons'] or '-'})")
        for spec, other in labels.get("compared", {}).items():
            print(f"  WordNet vs {spec} over verbs: " + ", ".join(
                f"{name} {other[name]['verbs']['spearman']:.4f}" for name in LABEL_DATASETS))


if __name__ == "__main__":
    main()
