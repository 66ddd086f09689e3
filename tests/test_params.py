import copy

import pytest
import yaml

from action2vec import Action2VecError, params

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


def test_a_former_dataset_name_says_what_it_was_renamed_to(tmp_path):
    """An old params.yaml (or `-S dataset.name=embedded`) is told the new name."""
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(DEFAULT).replace("name: rendered", "name: embedded"))
    with pytest.raises(params.ParamsError) as err:
        params.read(path)
    assert ("dataset.name: the dataset 'embedded' was renamed to 'rendered'; set it to rendered"
            in str(err.value))
    for name in ("embeded", ["rendered"]):
        assert (f"dataset.name: unknown dataset {name!r}; known: ['folder', 'hmdb51', "
                "'kinetics400', 'list', 'rendered', 'ucf101']") in check(
                    lambda p: p["dataset"].update(name=name))


def test_the_list_file_must_lie_inside_the_dataset_root():
    """DVC's dependency on dataset.root covers the list file only inside it."""
    for bad in ("/data/list.csv", "../list.csv", "a/../../list.csv"):
        assert "dataset.list: must name a file inside dataset.root" in check(
            lambda p: p["dataset"].update(list=bad))
    assert "dataset.list: must be a non-empty string" in check(
        lambda p: p["dataset"].update(list=""))
    params.validate({**DEFAULT, "dataset": {**DEFAULT["dataset"], "list": "lists/mine.csv"}})


def test_own_videos_cannot_lie_where_the_render_stage_writes():
    """With another dataset than rendered, the render stage empties data/videos."""
    for root in ("data/videos", "./data/videos/mine"):
        assert "dataset.root: " + root + " is the render stage's output" in check(
            lambda p: p["dataset"].update(name="folder", root=root))
    params.validate({**DEFAULT, "dataset": {**DEFAULT["dataset"], "name": "folder",
                                            "root": "clips"}})


def pipeline(tmp_path, **declared):
    """A params.yaml and a dvc.yaml whose stages declare ``declared`` ({stage: [keys]})."""
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(DEFAULT))
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {
        name: {"cmd": f"python stages/{name}.py", "params": keys}
        for name, keys in declared.items()}}))
    return {"path": tmp_path / "params.yaml", "dvc_yaml": tmp_path / "dvc.yaml"}


def test_load_gives_a_stage_exactly_the_keys_it_declares(tmp_path):
    files = pipeline(tmp_path, pca=["seed", "pca"], labels=["dataset.name", "labels"])
    pca = params.load("pca", **files)
    assert pca == {"seed": DEFAULT["seed"], "pca": DEFAULT["pca"]}
    assert pca["pca"]["dims"] == DEFAULT["pca"]["dims"]
    labels = params.load("labels", **files)
    assert labels == {"dataset": {"name": DEFAULT["dataset"]["name"]},
                      "labels": DEFAULT["labels"]}


def test_a_section_declared_whole_and_in_part_is_whole_in_either_order(tmp_path):
    files = pipeline(tmp_path, a=["dataset", "dataset.name"], b=["dataset.name", "dataset"])
    for stage in ("a", "b"):
        assert params.load(stage, **files) == {"dataset": DEFAULT["dataset"]}


def test_reading_an_undeclared_key_names_the_stage_and_the_key(tmp_path):
    files = pipeline(tmp_path, labels=["dataset.name", "labels"])
    p = params.load("labels", **files)
    for read, key in [(lambda: p["seed"], "seed"), (lambda: p.get("lambda", 0), "lambda"),
                      (lambda: p["dataset"]["root"], "dataset.root"),
                      (lambda: p["dataset"].get("root"), "dataset.root")]:
        with pytest.raises(params.ParamsError) as err:
            read()
        assert str(err.value).startswith(f"stage labels reads param {key}, which dvc.yaml does "
                                         "not declare for it")


def test_a_declared_key_that_params_yaml_lacks_is_an_error(tmp_path):
    files = pipeline(tmp_path, a=["pca.dimz"], b=["sead"], c=["seed.value"])
    for stage, key in [("a", "pca.dimz"), ("b", "sead"), ("c", "seed.value")]:
        with pytest.raises(params.ParamsError) as err:
            params.load(stage, **files)
        assert str(err.value) == (f"{params.DVC_YAML}: stage {stage} declares param {key}, "
                                  f"which {params.PARAMS} does not have")


def test_an_unknown_stage_is_an_error(tmp_path):
    files = pipeline(tmp_path, pca=["pca"])
    with pytest.raises(params.ParamsError, match=r"dvc.yaml: no stage 'pcaa' \(stages: pca\)"):
        params.load("pcaa", **files)


def test_params_from_another_file_are_refused(tmp_path):
    files = pipeline(tmp_path, pca=[{"other.yaml": ["dims"]}])
    with pytest.raises(params.ParamsError, match="stage pca reads params from other.yaml"):
        params.load("pca", **files)


def test_every_key_the_project_declares_is_in_params_yaml():
    for stage in yaml.safe_load(open(params.DVC_YAML))["stages"]:
        assert set(params.load(stage)) == {key.split(".")[0] for key in params.declared(stage)}


def test_bad_file_is_a_clear_error(tmp_path):
    (tmp_path / "params.yaml").write_text("seed: [unclosed")
    with pytest.raises(params.ParamsError, match="not valid YAML"):
        params.read(tmp_path / "params.yaml")
    with pytest.raises(params.ParamsError, match="no such file"):
        params.read(tmp_path / "nothing.yaml")


@pytest.mark.parametrize("value", ["classes.csv", "/abs/data/descriptions/d.csv",
                                   "data/descriptions/../d.csv", "data/descriptions",
                                   "descriptions/d.csv"])
def test_descriptions_must_lie_in_the_descriptions_folder(value):
    message = check(lambda p: p["labels"].update(descriptions=value))
    assert "labels.descriptions: must name a file inside the project's data/descriptions/ folder" \
        in message


def test_label_spaces_to_compare_are_a_list_of_names():
    tree = copy.deepcopy(DEFAULT)
    tree["labels"]["descriptions"] = "data/descriptions/rendered.csv"
    tree["semantics"]["compare_vectors"] = []
    assert params.validate(tree) == tree
    message = check(lambda p: p["semantics"].update(compare_vectors="minilm"))
    assert "semantics.compare_vectors: must be a list of non-empty strings" in message


@pytest.mark.parametrize("key,value,problem", [
    (("seed",), 99999999999999999999999, "seed: must be <= 4294967295"),
    (("zsl", "bootstrap"), 0, "zsl.bootstrap: must be >= 100"),
    (("train", "lstm1"), 100000, "train.lstm1: must be <= 65536"),
    (("decode", "workers"), 10**6, "decode.workers: must be <= 256"),
])
def test_values_no_stage_can_run_are_refused_naming_the_key(key, value, problem):
    assert problem in check(lambda p: set_key(p, key, value))


def test_files_that_params_name_must_be_there(tmp_path):
    tree = copy.deepcopy(DEFAULT)
    tree["dataset"].update(name="list", root=str(tmp_path / "gone"))
    tree["features"]["weights"] = str(tmp_path)
    assert params.file_problems(tree) == [
        f"dataset.root: {tmp_path / 'gone'} is not a folder",
        f"features.weights: {tmp_path} is not a file"]
    (tmp_path / "gone").mkdir()
    assert params.file_problems(tree)[0] == (
        f"dataset.list: {tmp_path / 'gone' / 'index.csv'} is not a file")
    assert params.file_problems(DEFAULT) == []


def test_a_params_file_that_is_not_utf8_is_one_error_naming_it(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_bytes(yaml.safe_dump(DEFAULT).encode() + "# caf\xe9\n".encode("latin-1"))
    with pytest.raises(Action2VecError) as err:
        params.read(path)
    assert isinstance(err.value, Action2VecError)
    assert str(err.value).startswith(f"{path}: not UTF-8 text (byte 0xe9 at offset ")


REGISTRIES = ("backbones.py", "dataset_names.py", "protocol.py")


@pytest.mark.parametrize("name", REGISTRIES)
def test_a_registry_imports_nothing(name):
    """The names the schema needs live in modules with no import at all, so that editing the
    code that uses them (drawing splits, scoring, listing videos) reruns only its own stages."""
    import ast
    from conftest import ROOT
    tree = ast.parse((ROOT / "action2vec" / name).read_text())
    assert not [n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom))]


def test_params_runs_only_the_registries_and_the_file_helpers():
    from conftest import ROOT
    from test_dvc_yaml import import_closure
    closure = {p.name for p in import_closure(ROOT / "action2vec" / "params.py")}
    assert closure == {"__init__.py", "files.py", "paths.py", *REGISTRIES}


def test_every_dataset_name_has_a_lister():
    from action2vec.dataset import DATASETS
    from action2vec.dataset_names import NAMES
    assert list(DATASETS) == list(NAMES)
