"""Stage pca: fit PCA on the clip features and project every shard (params: pca). The fitted
projection is kept as arrays in data/pca/model.npz (``Projection.load`` reads it)."""

import json
import logging
import shutil

from action2vec import params
from action2vec.paths import FEATURES, PCA, PCA_METRICS, PCA_MODEL, PCA_SHARDS
from action2vec.pca import fit_pca, transform_shards
from action2vec.stage import run

log = logging.getLogger("pca")


def main():
    p = params.load("pca")
    cfg = p["pca"]
    projection = fit_pca(FEATURES, cfg["dims"], cfg["max_fit_samples"], p["seed"])
    shutil.rmtree(PCA, ignore_errors=True)
    transform_shards(FEATURES, PCA_SHARDS, projection, max_videos=10_000)
    projection.save(PCA_MODEL)
    kept = projection.variance_kept
    PCA_METRICS.parent.mkdir(exist_ok=True)
    PCA_METRICS.write_text(json.dumps({"explained_variance": kept, "dims": projection.dims,
                                   "fit_samples": projection.n_samples}, indent=1))
    log.info("%d components keep %.1f%% of the variance", cfg["dims"], 100 * kept)


if __name__ == "__main__":
    run(main)
