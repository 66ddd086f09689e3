"""action2vec/paths.py is the one home of the pipeline's artefact paths: each one is a path that
dvc.yaml tracks, scratch space stays outside every output, and no other module spells a path of
its own."""

import ast
import inspect
from pathlib import Path

import pytest
from dvc.dependency.param import ParamsDependency

from action2vec import params, paths, trained

from conftest import ROOT

# paths.py's functions, each called in built() but split_files, which lists what the others build
BUILDERS = {"run_dir", "baseline_dir", "split_file", "split_files", "loss_plot",
            "projection_file"}
LITERALS = ("data", "metrics", "reports", "plots")  # the top folders of the pipeline's files


@pytest.fixture(scope="module")
def outs(dvc_stages):
    """Every out, metric and plot of dvc.yaml, as DVC resolves them."""
    return {Path(out.def_path) for stages in dvc_stages.values() for stage in stages
            for out in stage.outs}


@pytest.fixture(scope="module")
def deps(dvc_stages):
    return {Path(dep.def_path) for stages in dvc_stages.values() for stage in stages
            for dep in stage.deps}


INPUTS = (paths.DVC_YAML, paths.PARAMS, paths.DESCRIPTIONS)  # the project's own files


def constants():
    """paths.py's module-level paths by name, but for the project's own input files."""
    return {name: value for name, value in vars(paths).items()
            if isinstance(value, Path) and value not in INPUTS}


def built():
    """The paths paths.py's functions build for the variants and ratios params.yaml declares."""
    zsl = params.read(ROOT / paths.PARAMS)["zsl"]
    runs = [(v, r) for v in zsl["variants"] for r in zsl["ratios"]] + [paths.ALL_CLASSES]
    folders = ([paths.run_dir(*run) for run in runs]
               + [paths.baseline_dir(ratio) for ratio in zsl["ratios"]])
    files = [paths.split_file(folder, k, suffix) for folder in folders
             for k in range(zsl["n_splits"]) for suffix in (".pt", ".npz", ".json")]
    projections = [paths.projection_file(ratio, k) for ratio in zsl["ratios"] + [paths.ALL]
                   for k in range(zsl["n_splits"])]
    return folders + files + projections + [paths.loss_plot(*run) for run in runs]


def tracked(path, outs):
    """``path`` is an output of dvc.yaml, inside one, or a folder holding outputs."""
    return any(path == out or out in path.parents or path in out.parents for out in outs)


def test_the_path_functions_are_all_called_here():
    functions = {name for name, value in vars(paths).items()
                 if inspect.isfunction(value) and value.__module__ == paths.__name__}
    assert functions == BUILDERS, "paths.py has new path functions: add them to built()"


def test_every_artefact_path_is_an_output_of_the_pipeline(outs):
    scratch = set(paths.SCRATCH)
    wrong = [f"paths.{name} = {path}" for name, path in constants().items()
             if path not in scratch and not tracked(path, outs)]
    wrong += [str(path) for path in built() if not tracked(path, outs)]
    assert not wrong, (f"{', '.join(wrong)}: no out, metric or plot of dvc.yaml, nor inside one; "
                       "DVC would neither version nor restore it")


def test_the_descriptions_folder_is_a_dep_of_the_labels_stage(dvc_stages):
    """labels.descriptions names a file in it: editing that file must rerun the labels stage."""
    assert paths.DESCRIPTIONS in {Path(dep.def_path) for dep in dvc_stages["labels"][0].deps}


def test_params_are_read_from_the_params_file_of_paths(dvc_stages):
    files = {dep.def_path for stages in dvc_stages.values() for stage in stages
             for dep in stage.deps if isinstance(dep, ParamsDependency)}
    assert files == {str(paths.PARAMS)}


def test_scratch_space_is_outside_every_output_and_dep(outs, deps):
    inside = [f"{path} and {other}" for path in paths.SCRATCH for other in outs | deps
              if path == other or path in other.parents or other in path.parents]
    assert not inside, ("scratch space overlaps outs or deps of dvc.yaml (DVC would cache it or "
                        f"rerun stages when it changes): {', '.join(inside)}")
    loose = [f"paths.{name}" for name, path in constants().items()
             if paths.RESUME in path.parents and path not in paths.SCRATCH]
    assert not loose, f"{', '.join(loose)}: scratch paths missing from paths.SCRATCH"


def test_the_files_the_command_reads_are_pipeline_outputs(outs):
    read = [path for path in vars(trained).values() if isinstance(path, Path)]
    untracked = [str(path) for path in read if path != paths.PARAMS and not tracked(path, outs)]
    assert read and not untracked, (f"the action2vec command reads {', '.join(untracked)}, "
                                    "which no stage of dvc.yaml writes")


def spelt_paths(path):
    """(line, text) of the string literals in ``path`` that spell a pipeline file's path:
    "data/...", "metrics/...", "reports/...", "plots/..." or Path("data"). Docstrings are
    prose, not paths."""
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef,
                                       ast.AsyncFunctionDef))
                  and ast.get_docstring(node, clean=False) is not None}
    found = []
    for node in ast.walk(tree):  # an f-string's text parts are constants too
        if (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path"
                and node.args and isinstance(node.args[0], ast.Constant)
                and node.args[0].value in LITERALS):
            found.append((node.lineno, f'Path("{node.args[0].value}")'))
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str)
              and id(node) not in docstrings and node.value.startswith(
                  tuple(f"{folder}/" for folder in LITERALS))):
            found.append((node.lineno, repr(node.value)))
    return found


def test_no_module_but_paths_spells_an_artefact_path():
    files = [p for p in sorted((ROOT / "action2vec").glob("*.py")) if p.name != "paths.py"]
    files += sorted((ROOT / "stages").glob("*.py"))
    spelt = [f"{path.relative_to(ROOT)}:{line}: {text}" for path in files
             for line, text in spelt_paths(path)]
    assert not spelt, "use action2vec/paths.py instead of:\n" + "\n".join(spelt)
