"""Print the pipeline's figures as short tables (what `make run` shows at the end), from the
reports (reports/*.json: every figure, where the metrics hold the headline ones)."""

import csv
import json
from importlib import resources

from action2vec import baseline
from action2vec.paths import (ANALOGY_REPORT, LABEL_SEMANTICS_REPORT, WORDNET_REPORT,
                              ZSL_REPORT)
from action2vec.stage import table

LABEL_DATASETS = ("hmdb51", "ucf101", "kinetics400")


def read(path):
    return json.loads(path.read_text()) if path.is_file() else None


def label(name, entry):
    """A score's label, with the backbone and layer its entry records: "pooled (c3d fc7)", and
    "random-init" where the backbone was never trained."""
    used = (["random-init"] if entry.get("random_init") else []) + [
        entry[k] for k in ("backbone", "layer") if k in entry]
    return f"{name} ({' '.join(used)})" if used else name


def interval(m, name):
    """" [low, high]" of a score's confidence interval, or "" without one."""
    low, high = m.get(f"{name}_low"), m.get(f"{name}_high")
    return "" if low is None or high is None else f" [{low:.2f}, {high:.2f}]"


def by_variant(zsl, title, cell):
    """One row per variant, one column per ratio, of ``cell(metrics, variant)``."""
    ratios = [r for r in zsl if r != "definitions"]
    variants = list(dict.fromkeys(v for r in ratios for v in zsl[r]))
    labels = {v: label(v, next(zsl[r][v] for r in ratios if v in zsl[r])) for v in variants}
    rows = [[labels[v], *("-" if zsl[r].get(v) is None else cell(zsl[r][v], v) for r in ratios)]
            for v in variants]
    return f"{title}\n" + table(rows, ["variant", *ratios], right=[False] + [True] * len(ratios))


def figure(value):
    return "-" if value is None else f"{value:.3f}"


def zero_shot(zsl):
    """Top-1 mean ± std and interval per variant (rows) and ratio (columns), as in Table 1."""
    def cell(m, v):
        if v == "chance":
            return figure(m["top1_mean"])
        return f"{m['top1_mean']:.3f} ± {figure(m['top1_std'])}{interval(m, 'top1')}"
    return by_variant(zsl, "zero-shot top-1 (mean ± sample std over splits [95% bootstrap "
                      "interval])", cell)


def generalized(zsl, prefix, title):
    """Generalized zero-shot seen / unseen (means over splits) / H of those means [interval]."""
    def cell(m, v):
        if f"{prefix}_harmonic" not in m:
            return "-"
        return (f"{figure(m[f'{prefix}_seen_mean'])} / {figure(m[f'{prefix}_unseen_mean'])} / "
                f"{figure(m[f'{prefix}_harmonic'])}{interval(m, f'{prefix}_harmonic')}")
    return by_variant(zsl, title, cell)


def validation(zsl):
    """Validation top-1, unselected [interval], then the selected one where there is one."""
    def cell(m, v):
        if "validation_top1_mean" not in m:
            return "-"
        text = f"{m['validation_top1_mean']:.3f}{interval(m, 'validation_top1')}"
        if "validation_top1_selected_mean" in m:
            text += f" (selected {m['validation_top1_selected_mean']:.3f})"
        return text
    return by_variant(zsl, "validation top-1, unselected (trained variants: last epoch) [95% "
                      "interval]; (selected: at the epoch chosen as best on it, biased upwards)",
                      cell)


def random_init(zsl):
    """Whether the zero-shot report's pooled rows say the backbone was never trained."""
    return any(isinstance(v, dict) and v.get(baseline.NAME, {}).get("random_init")
               for v in (zsl or {}).values())


def paper_table1():
    """{(ratio, variant): "HMDB51 / UCF101 / Kinetics" top-1 in percent} of the paper's Table 1
    (resources/paper_table1.csv)."""
    path = resources.files("action2vec") / "resources" / "paper_table1.csv"
    with path.open(newline="") as f:
        return {(r["ratio"], r["variant"]): f"{r['hmdb51']} / {r['ucf101']} / {r['kinetics']}"
                for r in csv.DictReader(f)}


def beside_the_paper(zsl):
    """The top-1 of each variant that the paper's Table 1 has, in percent, beside the paper's
    (another dataset, and C3D pretrained on Sports-1M: a reference, not a comparison)."""
    paper = paper_table1()
    cells = {k: v for k, v in paper.items() if k[0] in zsl and k[1] in zsl[k[0]]}
    if not cells:
        return None
    rows = [[ratio, variant, f"{100 * zsl[ratio][variant]['top1_mean']:.2f}", reference]
            for (ratio, variant), reference in cells.items()]
    return ("zero-shot top-1 in percent beside the paper's Table 1 (HMDB51 / UCF101 / "
            "Kinetics, C3D pretrained on Sports-1M)\n" +
            table(rows, ["ratio", "variant", "this run", "paper"], right=[False, False, True,
                                                                          False]))


def main():
    zsl, wordnet, analogy = read(ZSL_REPORT), read(WORDNET_REPORT), read(ANALOGY_REPORT)
    if zsl:
        print(zero_shot(zsl), end="\n\n")
        print(generalized(zsl, "gzsl", "generalized zero-shot seen / unseen / H = 2SU/(S+U) of "
                          "those means [95% interval of H]"), end="\n\n")
        print(generalized(zsl, "gzsl_calibrated", "the same with calibrated stacking (gamma "
                          "chosen on validation data)"), end="\n\n")
        print(validation(zsl), end="\n\n")
        paper = beside_the_paper(zsl)
        if paper:
            print(paper, end="\n\n")
    if wordnet:
        pooled = {**wordnet, "random_init": random_init(zsl)}  # the same features
        print(f"WordNet vs embeddings ({wordnet['n_classes']} verbs, Spearman): " +
              ", ".join(f"{label(k, pooled if k == baseline.NAME else {})} {wordnet[k]:.3f}"
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
