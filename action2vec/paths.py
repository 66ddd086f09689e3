"""Every artefact path of the pipeline and its file-name rules, relative to the project root.

dvc.yaml states these paths again as outs and deps (DVC cannot import Python);
tests/test_paths.py checks that each one here is an out or dep there (or inside one).
"""

from pathlib import Path

PARAMS = Path("params.yaml")
DVC_YAML = Path("dvc.yaml")
# The project's folder of class descriptions (params labels.descriptions names a file in it):
# an input that the labels stage depends on, so that editing a description reruns it.
DESCRIPTIONS = Path("data/descriptions")

# The check stage's mark that params.yaml passed; every other stage comes after it.
PARAMS_CHECKED = Path("data/params.checked")

VIDEOS = Path("data/videos")  # the render stage's output; the default dataset.root
DECODE = Path("data/decode")
DECODED = DECODE / "videos.csv"  # every video, with its status
REJECTED = DECODE / "rejected.csv"
LABELS = Path("data/labels")
CLASSES = LABELS / "classes.json"  # class names, their words, texts and label vectors
FEATURES = Path("data/features")  # HDF5 shards of clip features
LEFT_OUT = FEATURES / "rejected.csv"  # every video left out: by decode or extract, and why
PCA = Path("data/pca")
PCA_MODEL = PCA / "model.npz"  # the projection fitted on every video (ratio "all"), as arrays
PCA_SHARDS = PCA / "shards"  # the features projected, same shard layout
SEQUENCES = Path("data/sequence/sequences.h5")
LEAKAGE = Path("data/leakage.json")  # per class: nearest pretraining class, flagged
SPLITS = Path("data/splits.json")
TRAIN = Path("data/train")  # TRAIN/VARIANT/RATIO/split-k.{pt,npz,json}
BASELINE = Path("data/baseline")  # BASELINE/RATIO/split-k.npz

# The headline figures a person compares across experiments (`dvc metrics show`, `dvc exp show`).
METRICS = Path("metrics")
ZSL_METRICS = METRICS / "zsl.json"  # zero-shot top-1 with its interval and GZSL H
SEMANTICS_METRICS = METRICS / "semantics.json"  # Table 3 (WordNet) and Table 4 (analogy)
# Every figure of every stage: plain outputs, versioned in git beside the metrics.
REPORTS = Path("reports")
ZSL_REPORT = REPORTS / "zsl.json"
TRAIN_REPORT = REPORTS / "train.json"
PROTOCOL_REPORT = REPORTS / "protocol.json"  # how the zero-shot figures were measured
PCA_REPORT = REPORTS / "pca.json"
WORDNET_REPORT = REPORTS / "wordnet.json"
ANALOGY_REPORT = REPORTS / "analogy.json"
LABEL_SEMANTICS_REPORT = REPORTS / "label_semantics.json"
LEAKAGE_REPORT = REPORTS / "leakage.json"

PLOTS = Path("plots")
CONFUSION = PLOTS / "confusion.csv"
ANALOGY_EXAMPLES = PLOTS / "analogy.csv"
TSNE = PLOTS / "tsne.png"
LOSS_PLOTS = PLOTS / "train"  # LOSS_PLOTS/VARIANT_RATIO.csv

# Scratch space kept between runs, outside every DVC output: nothing here is a result.
RESUME = Path(".resume")
TRAIN_RESUME = RESUME / "train"  # per-epoch state of an unfinished training
TRAIN_DONE = TRAIN_RESUME / "done"  # the last run's finished trainings, reused when unchanged
SEQUENCE_SCRATCH = RESUME / "sequences"  # per-split projected sequences while training
DAMAGED = RESUME / "damaged"  # damaged feature shards set aside by extract
SCRATCH = (RESUME, TRAIN_RESUME, TRAIN_DONE, SEQUENCE_SCRATCH, DAMAGED)

# The "ratio" of the one split that trains on every class and holds none out (the full model), and
# the variant trained so: what `action2vec` and the semantics stage use.
ALL = "all"
ALL_CLASSES = ("action2vec", ALL)


def run_dir(variant, ratio):
    """Where one variant's models and test embeddings of one ratio are written."""
    return TRAIN / variant / ratio


def baseline_dir(ratio):
    """Where the pooled-feature baseline's test predictions of one ratio are written."""
    return BASELINE / ratio


def split_file(directory, k, suffix):
    """The file of class split ``k`` in a run directory: split-k.pt (model), split-k.npz (test
    embeddings) or split-k.json (loss per epoch)."""
    return Path(directory) / f"split-{k}{suffix}"


def split_files(directory, suffix):
    """The split files with ``suffix`` in a run directory, in split order."""
    return sorted(Path(directory).glob(f"split-*{suffix}"),
                  key=lambda p: int(p.name[len("split-"):-len(suffix)]))


def projection_file(ratio, k):
    """The PCA projection that split ``k`` of a ratio trains and is tested with: fitted on its
    training videos alone (or on every video, with ``pca.fit_on: all``)."""
    return PCA_MODEL if ratio == ALL else split_file(PCA / ratio, k, ".npz")


def loss_plot(variant, ratio):
    """Split 0's loss per epoch of one training, a DVC plot."""
    return LOSS_PLOTS / f"{variant}_{ratio}.csv"


MODEL = split_file(run_dir(*ALL_CLASSES), 0, ".pt")
EMBEDDINGS = split_file(run_dir(*ALL_CLASSES), 0, ".npz")
