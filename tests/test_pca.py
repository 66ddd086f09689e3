import pickle

import numpy as np
import pytest
from sklearn.decomposition import PCA

from action2vec import Action2VecError
from action2vec.pca import (Projection, draw_sample, fit_pca, mean_and_covariance, sample_rows,
                            transform_shards)
from action2vec.shards import ShardWriter, iter_videos, read_attrs

from conftest import RunsCode, damage_shard


def make_shards(directory, n_videos=12, clips=5, dim=16, per_shard=4):
    rng = np.random.default_rng(0)
    basis = rng.normal(size=(3, dim))
    with ShardWriter(directory, {"layer": "fc7"}, per_shard) as writer:
        for i in range(n_videos):
            writer.add(f"v{i}", "x", (rng.normal(size=(clips, 3)) @ basis).astype(np.float32))


def test_pca_finds_the_structure_and_keeps_ids(tmp_path):
    make_shards(tmp_path / "in")
    projection = fit_pca(tmp_path / "in", dims=3, max_samples=1000, seed=0)
    assert projection.variance_kept > 0.999
    transform_shards(tmp_path / "in", tmp_path / "out", projection, max_videos=5)
    out = list(iter_videos(tmp_path / "out"))
    assert [v[0] for v in out] == sorted(f"v{i}" for i in range(12))  # in video id order
    assert all(v[2].shape == (5, 3) for v in out)
    projected = np.concatenate([v[2] for v in out])
    assert np.mean(projected.var(axis=0)) == pytest.approx(1.0, rel=0.05)  # unit mean variance
    assert read_attrs(next((tmp_path / "out").glob("*.h5")))["pca_dims"] == 3


def whole_sample(directory, max_samples, seed, videos=None, block=1000):
    """The fit sample's rows, held whole, and the Sample."""
    sample = draw_sample(directory, max_samples, seed, videos)
    return np.concatenate(list(sample_rows(sample, block))), sample


def every_clip(directory, videos=None):
    """Every clip feature vector, read by iter_videos, in video id then clip order."""
    return np.concatenate([features for video, _, features in iter_videos(directory)
                           if videos is None or video in videos])


def test_fit_sample_is_bounded_and_read_in_blocks(tmp_path):
    make_shards(tmp_path)
    sample = draw_sample(tmp_path, 7, seed=0)
    assert sample.total == 60 and len(sample.positions) == 7
    assert len(set(sample.positions)) == 7 and list(sample.positions) == sorted(sample.positions)
    blocks = list(sample_rows(sample, block=3))
    assert [b.shape for b in blocks] == [(3, 16), (3, 16), (1, 16)]
    np.testing.assert_array_equal(np.concatenate(blocks), every_clip(tmp_path)[sample.positions])
    assert len(draw_sample(tmp_path, 1000, seed=0).positions) == 60  # all of them, once each


def test_fit_sample_is_the_same_for_the_same_seed(tmp_path):
    make_shards(tmp_path)
    first, again = (draw_sample(tmp_path, 20, seed=3).positions for _ in range(2))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, draw_sample(tmp_path, 20, seed=4).positions)


def test_fit_sample_of_some_videos_is_drawn_from_their_clips_alone(tmp_path):
    make_shards(tmp_path)
    chosen = {"v2", "v5", "v11"}
    rows, sample = whole_sample(tmp_path, 8, 0, videos=chosen)
    assert sample.total == 15 and len(rows) == 8
    assert [v.stop - v.start for v in sample.videos] == [5, 5, 5]
    np.testing.assert_array_equal(rows, every_clip(tmp_path, chosen)[sample.positions])


def test_too_few_vectors_for_the_dimension_is_a_clear_error(tmp_path):
    make_shards(tmp_path, n_videos=2, clips=3)
    with pytest.raises(Action2VecError, match="pca.dims: 10 components need at least 10 .* only 6"):
        fit_pca(tmp_path, dims=10, max_samples=1000, seed=0)
    make_shards(tmp_path / "one", n_videos=1, clips=1)
    with pytest.raises(Action2VecError, match="1 components need at least 2 .* only 1 to fit"):
        fit_pca(tmp_path / "one", dims=1, max_samples=1000, seed=0)
    make_shards(tmp_path / "wide", dim=16)
    with pytest.raises(Action2VecError, match="pca.dims: 17 components exceed the 16 values of "
                                              "each feature vector in .*wide; lower pca.dims"):
        fit_pca(tmp_path / "wide", dims=17, max_samples=1000, seed=0)


def spread_shards(directory, n_videos=40, clips=8, dim=24):
    """Clips with well separated variances along ``dim`` orthogonal directions, centred far
    from zero (as fc7 activations), so that each principal component is well defined."""
    rng = np.random.default_rng(5)
    basis = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    spread = np.geomspace(10, 0.1, dim)
    with ShardWriter(directory, {"layer": "fc7"}, 7) as writer:
        for i in range(n_videos):
            features = 20 + (rng.normal(size=(clips, dim)) * spread) @ basis.T
            writer.add(f"v{i:03d}", "x", features.astype(np.float32))


@pytest.mark.parametrize("max_samples", [250, 20])
def test_the_fit_is_the_exact_pca_of_the_sample(tmp_path, max_samples):
    """scikit-learn's exact PCA of the same rows, for a sample of more clips than values (the
    covariance, in blocks) and of fewer (the rows' SVD)."""
    spread_shards(tmp_path)
    projection = fit_pca(tmp_path, 5, max_samples, seed=1, scale=False, block=64)
    rows = whole_sample(tmp_path, max_samples, 1)[0].astype(np.float64)
    exact = PCA(n_components=5, svd_solver="full").fit(rows)
    assert projection.n_samples == len(rows) == exact.n_samples_ == max_samples
    np.testing.assert_allclose(projection.mean, exact.mean_, rtol=1e-6)
    np.testing.assert_allclose(projection.explained_variance, exact.explained_variance_,
                               rtol=1e-5)
    np.testing.assert_allclose(projection.explained_variance_ratio,
                               exact.explained_variance_ratio_, rtol=1e-5)
    total = rows.var(0, ddof=1).sum()  # the ratio's denominator: all the sample's variance
    np.testing.assert_allclose(projection.explained_variance_ratio,
                               projection.explained_variance / total, rtol=1e-5)
    each = np.arange(5)
    largest = np.abs(projection.components).argmax(1)
    assert (projection.components[each, largest] > 0).all()  # the sign convention
    reference = exact.components_  # the same convention, whatever scikit-learn's own
    reference = reference * np.sign(reference[each, np.abs(reference).argmax(1)])[:, None]
    np.testing.assert_allclose(projection.components, reference, atol=1e-5)


def test_the_block_size_changes_the_fit_by_rounding_alone(tmp_path):
    spread_shards(tmp_path)
    first, *others = (fit_pca(tmp_path, 5, 250, seed=1, block=b) for b in (1, 7, 64, 10_000))
    for other in others:
        for name in ("components", "mean", "explained_variance", "explained_variance_ratio"):
            np.testing.assert_allclose(getattr(other, name), getattr(first, name), rtol=1e-6,
                                       atol=1e-6)
        assert other.scale == pytest.approx(first.scale, rel=1e-6)


def test_mean_and_covariance_match_numpys_far_from_zero():
    rng = np.random.default_rng(2)
    rows = 1e5 + rng.normal(size=(500, 6)) @ rng.normal(size=(6, 6))
    mean, cov = mean_and_covariance(np.array_split(rows, [1, 40, 41, 300]))  # uneven blocks
    np.testing.assert_allclose(mean, rows.mean(0), rtol=1e-12)
    np.testing.assert_allclose(cov, np.cov(rows, rowvar=False), rtol=1e-9, atol=1e-9)


def same_videos(directory, order, per_shard, dim=16):
    """Videos v00..v11 whose features depend on their id alone, written in ``order`` into
    shards of ``per_shard`` videos: one dataset as different extraction histories leave it."""
    basis = np.random.default_rng(0).normal(size=(3, dim))
    with ShardWriter(directory, {"layer": "fc7"}, per_shard) as writer:
        for i in order:
            rng = np.random.default_rng(i)
            clips = rng.normal(size=(3 + i % 4, 3)) @ basis + rng.normal(scale=0.1, size=dim)
            writer.add(f"v{i:02d}", f"class {i % 3}", clips.astype(np.float32))


def test_pca_output_does_not_depend_on_how_the_shards_split_the_videos(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    same_videos(one, range(12), per_shard=12)  # one clean run
    same_videos(two, [0, 1, 3, 4, 5, 6, 8, 9, 2, 10, 11, 7], per_shard=5)  # repairs, additions
    assert whole_sample(one, 20, 0)[0].tobytes() == whole_sample(two, 20, 0)[0].tobytes()
    for directory in (one, two):
        projection = fit_pca(directory, dims=3, max_samples=20, seed=0)
        transform_shards(directory, directory / "pca", projection, max_videos=5)
        projection.save(directory / "model.npz")
    assert (one / "model.npz").read_bytes() == (two / "model.npz").read_bytes()
    shards = [sorted((d / "pca").glob("shard-*.h5")) for d in (one, two)]
    assert [p.name for p in shards[0]] == [p.name for p in shards[1]] == [
        "shard-00000.h5", "shard-00001.h5", "shard-00002.h5"]
    for a, b in zip(*shards):
        assert a.read_bytes() == b.read_bytes()


def test_a_damaged_chunk_met_by_the_fit_sample_is_an_error_naming_the_shard(tmp_path):
    with ShardWriter(tmp_path, {}, 2) as writer:
        for i in range(4):
            writer.add(f"v{i}", "x", np.random.default_rng(i).normal(size=(100, 64)))
    damage_shard(tmp_path / "shard-00001.h5", "zeroed")
    with pytest.raises(Action2VecError, match=r"shard-00001.h5: damaged shard \(.*\); run `dvc "
                                              r"repro` to redo it"):
        list(sample_rows(draw_sample(tmp_path, 1000, 0)))


def test_projection_is_stored_as_arrays_and_loads_the_same(tmp_path):
    make_shards(tmp_path / "in")
    projection = fit_pca(tmp_path / "in", dims=3, max_samples=1000, seed=0)
    projection.save(tmp_path / "model.npz")
    with np.load(tmp_path / "model.npz", allow_pickle=False) as data:  # arrays, no pickle
        assert sorted(data.files) == sorted(Projection.ARRAYS)
    loaded = Projection.load(tmp_path / "model.npz")
    assert (loaded.dims, loaded.input_dim, loaded.n_samples) == (3, 16, 60)
    assert loaded.scale == projection.scale and loaded.variance_kept == projection.variance_kept
    x = np.random.default_rng(1).normal(size=(4, 16)).astype(np.float32)
    out = loaded.transform(x)
    assert out.dtype == np.float32 and np.array_equal(out, projection.transform(x))
    fitted = PCA(n_components=3, svd_solver="full").fit(whole_sample(tmp_path / "in", 1000, 0)[0])
    np.testing.assert_allclose(out, fitted.transform(x) * projection.scale, rtol=1e-4,
                               atol=1e-4)
    projection.save(tmp_path / "again.npz")  # the same arrays give the same bytes
    assert (tmp_path / "again.npz").read_bytes() == (tmp_path / "model.npz").read_bytes()
    assert not list(tmp_path.glob("*.tmp"))


def valid_arrays():
    return {"components": np.eye(2, 4), "mean": np.zeros(4), "scale": np.float64(1.0),
            "explained_variance": np.ones(2), "explained_variance_ratio": np.full(2, 0.25),
            "n_samples": np.int64(10)}


def write_pickle(path, marker):
    """A pickle renamed model.npz."""
    path.write_bytes(pickle.dumps(RunsCode(marker)))


def write_object_array(path, marker):
    """An .npy object array (a pickle inside) named model.npz."""
    with open(path, "wb") as f:
        np.save(f, np.array([RunsCode(marker)], dtype=object))


def write_object_member(path, marker):
    """An .npz with every array, its components an object array."""
    with open(path, "wb") as f:
        np.savez(f, **{**valid_arrays(), "components": np.array([RunsCode(marker)], object)})


@pytest.mark.parametrize("write", [write_pickle, write_object_array, write_object_member])
def test_a_pickled_projection_is_refused_unrun(tmp_path, write):
    path, marker = tmp_path / "model.npz", tmp_path / "MARKER"
    write(path, marker)
    with pytest.raises(Action2VecError, match="not a PCA projection .*refused") as error:
        Projection.load(path)
    assert str(error.value).startswith(f"{path}: ")
    assert not marker.exists()


@pytest.mark.parametrize("change, message", [
    ({"scale": None}, r"\(no scale\)"),
    ({"mean": np.zeros(3)}, r"mean has shape \(3,\) but components \(2, 4\)"),
    ({"components": np.zeros(4)}, r"components is a 1-d float64 array, not a 2-d numeric one"),
    ({"mean": np.array(["a"] * 4)}, r"mean is a 1-d <U1 array"),
    ({"scale": np.float64(np.nan)}, r"scale has values that are not finite"),
])
def test_a_projection_archive_with_wrong_arrays_is_an_error_naming_it(tmp_path, change,
                                                                       message):
    arrays = {k: v for k, v in {**valid_arrays(), **change}.items() if v is not None}
    np.savez(tmp_path / "model.npz", **arrays)
    with pytest.raises(Action2VecError, match=message) as error:
        Projection.load(tmp_path / "model.npz")
    assert str(error.value).startswith(f"{tmp_path / 'model.npz'}: not a PCA projection")
    np.savez(tmp_path / "model.npz", **valid_arrays())
    assert Projection.load(tmp_path / "model.npz").dims == 2


def test_a_fit_on_some_videos_sees_those_videos_alone(tmp_path):
    """Fitting on a subset of ids equals fitting on shards that hold only those videos."""
    rng = np.random.default_rng(1)
    videos = {f"v{i}": rng.normal(size=(4, 16)).astype(np.float32) for i in range(10)}
    chosen = ["v1", "v4", "v5", "v8"]
    for name, ids in (("all", list(videos)), ("some", chosen)):
        with ShardWriter(tmp_path / name, {"layer": "fc7"}, 3) as writer:
            for video in ids:
                writer.add(video, "x", videos[video])
    subset = fit_pca(tmp_path / "all", 3, 1000, seed=0, videos=set(chosen))
    alone = fit_pca(tmp_path / "some", 3, 1000, seed=0)
    assert subset.n_samples == 16
    for name in Projection.ARRAYS:
        np.testing.assert_array_equal(getattr(subset, name), getattr(alone, name))
    with pytest.raises(Action2VecError, match="no features for 1 videos to fit PCA on"):
        fit_pca(tmp_path / "some", 3, 1000, seed=0, videos={"v1", "v2"})


def test_without_the_scale_the_projection_keeps_the_features_units(tmp_path):
    make_shards(tmp_path)
    plain = fit_pca(tmp_path, 3, 1000, seed=0, scale=False)
    scaled = fit_pca(tmp_path, 3, 1000, seed=0)
    assert plain.scale == 1.0
    assert scaled.scale == pytest.approx(1 / np.sqrt(plain.explained_variance.mean()))
    x = np.random.default_rng(2).normal(size=(5, 16))
    expected = (x - plain.mean) @ plain.components.T
    np.testing.assert_allclose(plain.transform(x), expected, rtol=1e-5)
    np.testing.assert_allclose(scaled.transform(x), expected * scaled.scale, rtol=1e-5)
