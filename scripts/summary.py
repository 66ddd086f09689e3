"""Print the pipeline's metrics as short tables (what `make run` shows at the end)."""

import json
from pathlib import Path

METRICS = Path("metrics")


def read(name):
    path = METRICS / name
    return json.loads(path.read_text()) if path.is_file() else None


def zero_shot(zsl):
    """Top-1 mean ± std per variant (rows) and ratio (columns), as in Table 1."""
    ratios = list(zsl)
    variants = list(dict.fromkeys(v for r in ratios for v in zsl[r]))
    lines = ["zero-shot top-1 (mean ± std over splits)", "variant".ljust(12) +
             "".join(r.rjust(16) for r in ratios)]
    for v in variants:
        cells = []
        for r in ratios:
            m = zsl[r].get(v)
            cells.append("-" if m is None else f"{m['top1_mean']:.3f}" if v == "chance"
                         else f"{m['top1_mean']:.3f} ± {m['top1_std']:.3f}")
        lines.append(v.ljust(12) + "".join(c.rjust(16) for c in cells))
    return "\n".join(lines)


def main():
    zsl, wordnet, analogy = read("zsl.json"), read("wordnet.json"), read("analogy.json")
    if zsl:
        print(zero_shot(zsl), end="\n\n")
    if wordnet:
        print(f"WordNet vs embeddings ({wordnet['n_classes']} verbs, Spearman): " +
              ", ".join(f"{k} {wordnet[k]:.3f}" for k in ("word2vec", "action2vec", "pooled_c3d")))
    if analogy:
        acc = analogy["accuracy"]
        print(f"vector arithmetic: {analogy['n_comparisons']} comparisons, accuracy "
              f"{'-' if acc is None else f'{acc:.3f}'}")
    labels = read("label_semantics.json")
    if labels:
        print("\nfrom class names alone (WordNet vs word vectors over verbs; analogy comparisons):")
        for name in ("hmdb51", "ucf101", "kinetics400"):
            d = labels[name]
            print(f"  {name:12s} {d['verbs']['spearman']:.4f} (paper {d['paper']['spearman']})"
                  f"  {d['comparisons']} (paper {d['paper']['comparisons'] or '-'})")


if __name__ == "__main__":
    main()
