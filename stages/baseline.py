"""Stage baseline@RATIO: the pooled-feature baseline of section 4.1 on every class split of a
ratio: features averaged over time, mapped to word vectors by kernel ridge regression with
Laplacian regularisation (params: baseline).

Usage: python stages/baseline.py RATIO

Writes data/baseline/RATIO/split-k.npz: the predicted word vectors of the unseen classes' videos.
"""

import sys

import numpy as np

from action2vec import Action2VecError, params
from action2vec.baseline import fit_laplacian_krr, pooled
from action2vec.labels import read_classes
from action2vec.paths import CLASSES, SEQUENCES, SPLITS, baseline_dir, split_file
from action2vec.sequences import read_sequences
from action2vec.stage import run
from action2vec.zsl import read_splits



def main():
    if len(sys.argv) != 2:
        raise Action2VecError("usage: python stages/baseline.py RATIO")
    ratio = sys.argv[1]
    cfg = params.load("baseline")["baseline"]
    splits = read_splits(SPLITS, ratio)
    data = read_sequences(SEQUENCES)
    vectors = read_classes(CLASSES).vectors
    features = pooled(data["sequences"], data["lengths"])
    labels = np.array(data["label"])
    out = baseline_dir(ratio)
    out.mkdir(parents=True, exist_ok=True)
    for k, split in enumerate(splits):
        train, test = np.isin(labels, split["seen"]), np.isin(labels, split["unseen"])
        model = fit_laplacian_krr(features[train], np.array([vectors[c] for c in labels[train]]),
                                  cfg["alpha"], cfg["gamma"], cfg["laplacian"],
                                  cfg["neighbours"])
        np.savez(split_file(out, k, ".npz"), video_id=np.array(data["video_id"])[test],
                 label=labels[test], embedding=model.predict(features[test]))


if __name__ == "__main__":
    run(main)
