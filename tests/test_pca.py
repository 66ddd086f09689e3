import numpy as np
import pytest

from action2vec import Action2VecError
from action2vec.pca import fit_pca, sample_rows, transform_shards
from action2vec.shards import ShardWriter, iter_videos, read_attrs


def make_shards(directory, n_videos=12, clips=5, dim=16, per_shard=4):
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, dim))
    with ShardWriter(directory, {"layer": "fc7"}, per_shard) as writer:
        for i in range(n_videos):
            writer.add(f"v{i}", "x", (rng.normal(size=(clips, 3)) @ basis).astype(np.float32))


def test_pca_finds_the_structure_and_keeps_ids(tmp_path):
    make_shards(tmp_path / "in")
    projection = fit_pca(tmp_path / "in", dims=3, max_samples=1000, seed=0)
    assert projection.pca.explained_variance_ratio_.sum() > 0.999
    transform_shards(tmp_path / "in", tmp_path / "out", projection, max_videos=5)
    out = list(iter_videos(tmp_path / "out"))
    assert [v[0] for v in out] == [f"v{i}" for i in range(12)]
    assert all(v[2].shape == (5, 3) for v in out)
    projected = np.concatenate([v[2] for v in out])
    assert np.mean(projected.var(axis=0)) == pytest.approx(1.0, rel=0.05)  # unit mean variance
    assert read_attrs(next((tmp_path / "out").glob("*.h5")))["pca_dims"] == 3


def test_fit_sample_is_bounded(tmp_path):
    make_shards(tmp_path)
    sample, total = sample_rows(tmp_path, 7, seed=0)
    assert total == 60 and sample.shape == (7, 16)


def test_too_few_vectors_for_the_dimension_is_a_clear_error(tmp_path):
    make_shards(tmp_path, n_videos=2, clips=3)
    with pytest.raises(Action2VecError, match="pca.dims: 10 components need at least 10 .* only 6"):
        fit_pca(tmp_path, dims=10, max_samples=1000, seed=0)
