"""Print the pipeline's metrics as short tables (what `make run` shows at the end)."""

import json

from action2vec import baseline
from action2vec.paths import (ANALOGY_METRICS, LABEL_SEMANTICS_METRICS, WORDNET_METRICS,
                              ZSL_METRICS)
from action2vec.stage import table

def read(path):
    return json.loads(path.read_text()) if path.is_file() else None


def label(name, entry):
    """A score's label, with the backbone and layer its entry records: "pooled (c3d fc7)"."""
    used = [entry[k] for k in ("backbone", "layer") if k in entry]
    return f"{name} ({' '.join(used)})" if used else name


def zero_shot(zsl):
    """Top-1 mean ± std per variant (rows) and ratio (columns), as in Table 1."""
    ratios = list(zsl)
    variants = list(dict.fromkeys(v for r in ratios for v in zsl[r]))
    labels = {v: label(v, next(zsl[r][v] for r in ratios if v in zsl[r])) for v in variants}

    def cell(m, v):
        return ("-" if m is None else f"{m['top1_mean']:.3f}" if v == "chance"
                else f"{m['top1_mean']:.3f} ± {m['top1_std']:.3f}")

    rows = [[labels[v], *(cell(zsl[r].get(v), v) for r in ratios)] for v in variants]
    return ("zero-shot top-1 (mean ± std over splits)\n" +
            table(rows, ["variant", *ratios], right=[False] + [True] * len(ratios)))


def main():
    zsl, wordnet, analogy = read(ZSL_METRICS), read(WORDNET_METRICS), read(ANALOGY_METRICS)
    if zsl:
        print(zero_shot(zsl), end="\n\n")
    if wordnet:
        print(f"WordNet vs embeddings ({wordnet['n_classes']} verbs, Spearman): " +
              ", ".join(f"{label(k, wordnet if k == baseline.NAME else {})} {wordnet[k]:.3f}"
                        for k in ("word2vec", "action2vec", baseline.NAME)))
    if analogy:
        acc = analogy["accuracy"]
        print(f"vector arithmetic: {analogy['n_comparisons']} comparisons, accuracy "
              f"{'-' if acc is None else f'{acc:.3f}'}")
    labels = read(LABEL_SEMANTICS_METRICS)
    if labels:
        print("\nfrom class names alone (WordNet vs word vectors over verbs; analogy comparisons):")
        for name in ("hmdb51", "ucf101", "kinetics400"):
            d = labels[name]
            print(f"  {name:12s} {d['verbs']['spearman']:.4f} (paper {d['paper']['spearman']})"
                  f"  {d['comparisons']} (paper {d['paper']['comparisons'] or '-'})")


if __name__ == "__main__":
    main()
