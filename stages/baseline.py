"""Stage baseline@RATIO: the pooled-feature baseline of section 4.1 on every class split of a
ratio: features averaged over time, mapped to word vectors by kernel ridge regression with
Laplacian regularisation (params: baseline).

Usage: python stages/baseline.py RATIO

The regression is fitted on each split's training videos alone (its seen classes, held-out
videos excepted) and pools the backbone's raw features, not their PCA projection: the paper's
"pooled C3D fc7". They are held once, in float32 (the kernel is computed in float64 a block at a
time): each split's training videos are moved to the front in place, and back, rather than
copied. The regression is solved on the Nystrom features of ``baseline.landmarks`` training
videos drawn with ``seed`` (the exact solution when a split has no more training videos than
that). Writes data/baseline/RATIO/split-k.npz: the predicted word vectors of every video not
trained on, each with its role ("unseen", "validation", "held_out"), as the train stage does.
"""

import sys

import numpy as np

from action2vec import Action2VecError, params
from action2vec.baseline import fit_laplacian_krr, permute_rows, pooled_features
from action2vec.labels import read_classes
from action2vec.paths import CLASSES, FEATURES, SEQUENCES, SPLITS, baseline_dir, split_file
from action2vec.sequences import read_index
from action2vec.stage import run
from action2vec.splits import read_splits, split_roles, training_videos


def main():
    if len(sys.argv) != 2:
        raise Action2VecError("usage: python stages/baseline.py RATIO")
    ratio = sys.argv[1]
    p = params.load("baseline")
    cfg = p["baseline"]
    splits = read_splits(SPLITS, ratio)
    index = read_index(SEQUENCES)
    vectors = read_classes(CLASSES).vectors
    features = pooled_features(FEATURES, index, np.float32)
    ids, labels = np.array(index.video_id), np.array(index.label)
    videos = list(zip(index.video_id, index.label))
    out = baseline_dir(ratio)
    out.mkdir(parents=True, exist_ok=True)
    for k, split in enumerate(splits):
        train = np.isin(ids, training_videos(split, videos))
        roles = split_roles(split, videos)
        test = np.array([video in roles for video in ids], dtype=bool)
        n = int(train.sum())
        order = np.argsort(~train, kind="stable")  # training videos first, each part in order
        permute_rows(features, order)  # in place: the training videos are features[:n]
        model = fit_laplacian_krr(features[:n], np.array([vectors[c] for c in labels[train]]),
                                  cfg["alpha"], cfg["gamma"], cfg["laplacian"],
                                  cfg["neighbours"], cfg["landmarks"], p["seed"])
        embedding = model.predict(features[n:])[test[order][n:]]
        permute_rows(features, np.argsort(order))  # back to the index's order
        np.savez(split_file(out, k, ".npz"), video_id=ids[test], label=labels[test],
                 role=np.array([roles[video] for video in ids[test]]), embedding=embedding)


if __name__ == "__main__":
    run(main)
