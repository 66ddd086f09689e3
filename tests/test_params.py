import copy

import pytest
import yaml

from action2vec import params

DEFAULT = params.read("params.yaml")


def check(change):
    tree = copy.deepcopy(DEFAULT)
    change(tree)
    with pytest.raises(params.ParamsError) as err:
        params.validate(tree)
    return str(err.value)


def test_project_params_are_valid():
    assert DEFAULT["lambda"] == 0.02
    assert params.validate(copy.deepcopy(DEFAULT)) == DEFAULT


def test_misspelt_top_level_key_is_named():
    message = check(lambda p: p.update(lamda=0.1))
    assert "lamda: unknown key" in message


def test_misspelt_nested_key_is_named():
    message = check(lambda p: p["train"].update(epoch=3))
    assert "train.epoch: unknown key" in message


def test_missing_key_and_wrong_type_are_named():
    def change(p):
        del p["pca"]["dims"]
        p["train"]["lr"] = "fast"
    message = check(change)
    assert "pca.dims: missing" in message and "train.lr: must be a number" in message


NUMBER_KEYS = [("lambda",), ("decode", "fps"), ("decode", "max_seconds"), ("train", "dropout"),
               ("train", "lr"), ("train", "lambda_warmup"), ("baseline", "alpha"),
               ("baseline", "gamma"), ("baseline", "laplacian")]


def set_key(tree, key, value):
    for part in key[:-1]:
        tree = tree[part]
    tree[key[-1]] = value


@pytest.mark.parametrize("key", NUMBER_KEYS, ids=".".join)
def test_non_finite_numbers_are_refused_naming_the_key(key):
    for value in (float("nan"), float("inf"), float("-inf")):
        message = check(lambda p: set_key(p, key, value))
        assert f"{'.'.join(key)}: must be a finite number (got {value!r})" in message


def test_nan_as_dvc_writes_it_is_refused(tmp_path):
    """`dvc exp run -S lambda=nan -S decode.fps=inf` writes YAML's .nan and .inf;
    `-S lambda=.nan` writes the string '.nan'."""
    text = yaml.safe_dump(DEFAULT)
    for lam, fps, problem in [(".nan", ".inf", "must be a finite number"),
                              ("'.nan'", "'-.inf'", "must be a number")]:
        path = tmp_path / "params.yaml"
        path.write_text(text.replace("lambda: 0.02", f"lambda: {lam}")
                        .replace("fps: 30", f"fps: {fps}"))
        with pytest.raises(params.ParamsError) as err:
            params.read(path)
        assert f"lambda: {problem}" in str(err.value)
        assert f"decode.fps: {problem}" in str(err.value)


def test_pca_dims_above_feature_dimension():
    assert "pca.dims: 5000 is more than the fc7 feature dimension 4096" in check(
        lambda p: p["pca"].update(dims=5000))


def test_chunk_longer_than_sequence():
    assert "train.chunk: 60 is longer than the sequence" in check(
        lambda p: p["train"].update(chunk=60))


def test_unknown_layer_and_choice():
    assert "features.layer" in check(lambda p: p["features"].update(layer="fc8"))
    assert "features.device: must be one of" in check(lambda p: p["features"].update(device="tpu"))


def test_load_gives_own_sections_and_shared_keys(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(DEFAULT))
    view = params.load("pca", path=path)
    assert set(view) == {"pca", "seed", "lambda"}


def test_bad_file_is_a_clear_error(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: [unclosed")
    with pytest.raises(params.ParamsError, match="not valid YAML"):
        params.read(tmp_path / "params.yaml")
    with pytest.raises(params.ParamsError, match="no such file"):
        params.read(tmp_path / "nothing.yaml")
