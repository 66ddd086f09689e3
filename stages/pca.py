"""Stage pca: fit the PCA projections of the clip features (params: seed, pca).

- data/pca/model.npz: fitted on every video, for the split that trains on every class ("all":
  the train stage's full model, the semantic evaluations and the `action2vec` command); every
  shard is projected with it into data/pca/shards, which the sequence stage pads.
- data/pca/RATIO/split-k.npz: one projection per class split, fitted on that split's training
  videos alone (``pca.fit_on: seen``, inductive: no unseen, validation or held-out video shapes
  it), or on every video (``all``, transductive). train and baseline project at load time.

``Projection.load`` reads them; they are arrays, never pickles.
"""

import json
import logging
import shutil

from action2vec import params
from action2vec.paths import (ALL, FEATURES, PCA, PCA_MODEL, PCA_REPORT, PCA_SHARDS, SPLITS,
                              projection_file)
from action2vec.pca import fit_pca, transform_shards
from action2vec.shards import video_index
from action2vec.stage import run
from action2vec.splits import all_splits, training_videos

log = logging.getLogger("pca")

# Videos per projected shard. The shard being written is held in memory, with its HDF5 image
# while it is written: at Kinetics' 36 clips a video of 500 dims, 1024 videos are 74 MB (an
# earlier 10,000 were 0.7 GB, more than once, beside the fit).
SHARD_VIDEOS = 1024


def main():
    p = params.load("pca")
    cfg = p["pca"]

    def fit(videos=None):
        return fit_pca(FEATURES, cfg["dims"], cfg["max_fit_samples"], p["seed"], videos,
                       cfg["scale"])

    everything = fit()
    shutil.rmtree(PCA, ignore_errors=True)
    transform_shards(FEATURES, PCA_SHARDS, everything, max_videos=SHARD_VIDEOS)
    everything.save(PCA_MODEL)
    videos = [(v, where.label) for v, where in video_index(FEATURES).items()]
    splits = all_splits(SPLITS)
    kept = []
    for ratio, drawn in splits.items():
        for k, split in enumerate(drawn if ratio != ALL else []):
            path = projection_file(ratio, k)
            path.parent.mkdir(parents=True, exist_ok=True)
            seen_only = cfg["fit_on"] == "seen"
            projection = fit(training_videos(split, videos)) if seen_only else everything
            projection.save(path)
            kept.append(projection.variance_kept)
            log.info("%s split %d: PCA fitted on %d clips of %s videos", ratio, k,
                     projection.n_samples, cfg["fit_on"])
    PCA_REPORT.parent.mkdir(exist_ok=True)
    PCA_REPORT.write_text(json.dumps({
        "explained_variance": everything.variance_kept, "dims": everything.dims,
        "fit_samples": everything.n_samples, "fit_on": cfg["fit_on"], "scale": cfg["scale"],
        "split_explained_variance": sum(kept) / max(len(kept), 1)}, indent=1))
    log.info("%d components keep %.1f%% of the variance", cfg["dims"],
             100 * everything.variance_kept)


if __name__ == "__main__":
    run(main)
