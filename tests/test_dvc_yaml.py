"""dvc.yaml states what each stage depends on; these tests derive it from the code instead, so
that `dvc repro` reruns a stage exactly when something it runs or reads has changed.

- Code: a stage runs its script and every module of the ``action2vec`` package that the script
  imports, directly or through other modules, at any depth (imports inside functions too). Its
  deps must list exactly those files (a missing one leaves a stale result, an extra one reruns
  the stage needlessly), and the packaged resource files (action2vec/resources/) that those
  modules name. action2vec/imports.py reads that closure from the source; an edit to a module
  must make `dvc status` report exactly the stages that run it.
- Params: ``params.load`` gives a stage only the keys dvc.yaml declares for it, so reading an
  undeclared key raises ParamsError when the stage runs (the tests that run stages fail); here a
  fast check of the script's own reads. And the other way: every declared key must be read
  somewhere in the code the stage runs.
"""

import ast
import json
import shlex
from pathlib import Path

import pytest
import yaml

from action2vec import params
from action2vec.imports import PACKAGE, import_closure, resources_read

from conftest import ROOT
from project import sh

RESOURCES = ROOT / PACKAGE / "resources"
NAMES = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])


def script_of(stage):
    """The stage script its cmd runs: ``python stages/NAME.py ARGS``."""
    return ROOT / next(word for word in shlex.split(stage.cmd) if word.endswith(".py"))


def is_code(path):
    """A dep that is the project's code or packaged data, as opposed to pipeline data."""
    return path.suffix == ".py" or path.is_relative_to(RESOURCES)


def relative(paths):
    return ", ".join(sorted(str(p.relative_to(ROOT)) for p in paths))


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_depends_on_exactly_the_code_it_runs(dvc_stages, name):
    problems = set()
    for stage in dvc_stages[name]:
        script = script_of(stage)
        modules = import_closure(script, ROOT)
        needed = {script} | modules | resources_read(modules, ROOT)
        listed = {ROOT / dep.def_path for dep in stage.deps if is_code(ROOT / dep.def_path)}
        if needed - listed:
            problems.add(f"dvc.yaml stage {name}: deps miss {relative(needed - listed)}, which "
                         f"{script.relative_to(ROOT)} runs or reads; add them "
                         "(`python scripts/dvc_deps.py` writes them)")
        if listed - needed:
            problems.add(f"dvc.yaml stage {name}: deps list {relative(listed - needed)}, which "
                         f"{script.relative_to(ROOT)} never imports or reads (a needless rerun "
                         "when they change); remove them (`python scripts/dvc_deps.py`)")
    assert not problems, "\n".join(sorted(problems))


def leaves(tree, key):
    """The dotted leaf keys under ``key`` ("train" -> "train.chunk", "train.lstm1", ...)."""
    node = tree
    for part in key.split("."):
        node = node[part]
    if not isinstance(node, dict):
        return [key]
    return [leaf for sub in node for leaf in leaves(tree, f"{key}.{sub}")]


def keys_read(paths):
    """The string keys that ``paths`` read by subscript (``p["seed"]``) or ``.get("seed")``."""
    keys = set()
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
                key = node.slice
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "get" and node.args):
                key = node.args[0]
            else:
                continue
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                keys.add(key.value)
    return keys


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_declares_the_params_its_script_reads(dvc_stages, name):
    """A fast check of top-level keys read in the script itself; a read of an undeclared key
    anywhere (a library module too) raises ParamsError when the stage runs."""
    tree = params.read(ROOT / "params.yaml")
    script = script_of(dvc_stages[name][0])
    declared = {key.split(".")[0] for key in params.declared(name, ROOT / "dvc.yaml")}
    undeclared = sorted(keys_read([script]) & set(tree) - declared)
    assert not undeclared, (f"{script.relative_to(ROOT)} reads params {', '.join(undeclared)}, "
                            f"which dvc.yaml stage {name} does not declare (DVC would not rerun "
                            "it when they change); add them to its params")


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_reads_every_param_it_declares(dvc_stages, name):
    """Each leaf of each declared key (all of a section declared whole) must have each of its
    parts read by key in the stage's script or the modules it imports. params.py is left out:
    it reads keys of the whole tree to validate it, not for a stage."""
    tree = params.read(ROOT / "params.yaml")
    script = script_of(dvc_stages[name][0])
    code = {script} | import_closure(script, ROOT)
    read = keys_read(code - {ROOT / PACKAGE / "params.py"})
    unused = [leaf for key in params.declared(name, ROOT / "dvc.yaml")
              for leaf in leaves(tree, key) if not set(leaf.split(".")) <= read]
    assert not unused, (f"dvc.yaml stage {name} declares params {', '.join(unused)}, which "
                        f"{script.relative_to(ROOT)} never reads (a needless rerun when they "
                        "change); remove them from its params")


def artefacts_named(script):
    """The artefact paths of action2vec/paths.py that ``script`` imports by name (DECODED,
    SPLITS, ...), scratch space and the project's own files left out."""
    from action2vec import paths

    skip = {paths.PARAMS, paths.DVC_YAML}
    named = {}
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == f"{PACKAGE}.paths":
            for alias in node.names:
                value = getattr(paths, alias.name, None)
                if (isinstance(value, Path) and value not in skip
                        and not any(value.is_relative_to(s) for s in paths.SCRATCH)):
                    named[alias.name] = value
    return named


@pytest.mark.parametrize("name", NAMES)
def test_a_stage_declares_the_artefacts_its_script_names(dvc_stages, name):
    """An artefact the script names is a dep or an out of the stage (or inside or around one):
    otherwise DVC would not rerun the stage when the artefact changes."""
    stage = dvc_stages[name][0]
    declared = [Path(entry.def_path) for entry in stage.deps + stage.outs]
    missing = sorted(key for key, path in artefacts_named(script_of(stage)).items()
                     if not any(path.is_relative_to(d) or d.is_relative_to(path)
                                for d in declared))
    assert not missing, (f"dvc.yaml stage {name}: {script_of(stage).relative_to(ROOT)} names "
                         f"{', '.join(missing)}, which the stage neither depends on nor "
                         "writes; add it to its deps")


def test_every_stage_comes_after_the_params_check():
    """DVC removes a stage's outputs just before running it: the check of params.yaml must run
    first, so that a refused value stops the run before anything is removed."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo(str(ROOT), config={"core": {"no_scm": True}}) as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        check = next(stage for stage in graph if stage.name == "check")
        after = nx.ancestors(graph, check)
        loose = sorted(stage.name for stage in graph if stage is not check and stage not in after)
    assert not loose, f"dvc.yaml: stages {loose} do not depend on the check stage's output"
    dep_paths = {dep.def_path for dep in check.deps}
    assert "params.yaml" in dep_paths  # any edit of params.yaml reruns the check


# The stages that run scoring.py (ranking by cosine) or splits.py (drawing the splits), as the
# code imports them: an edit to either reruns these and no other. scoring.py runs where cosines
# are computed: leakage (label vectors against pretraining classes), train (validation),
# evaluate, and the two semantic stages; splits.py runs in the splits stage and later.
RUN_BY = {
    "scoring.py": {"leakage", "train", "evaluate", "semantics", "label_semantics"},
    "splits.py": {"splits", "pca", "train", "baseline", "evaluate"},
}


@pytest.mark.slow  # dvc in a copy of the shared pipeline project
@pytest.mark.parametrize("module", sorted(RUN_BY))
def test_an_edit_to_a_module_reruns_exactly_the_stages_that_run_it(project_copy, module):
    """A comment appended to a module of the copy's own package (its dvc.yaml deps name those
    files): `dvc status` reports changed exactly the stages whose deps list the module, which
    are those whose scripts import it (read from the copy's code), which are RUN_BY's."""
    root = project_copy
    stages = yaml.safe_load((root / "dvc.yaml").read_text())["stages"]
    edited = root / PACKAGE / module
    running = {name for name, stage in stages.items()
               if edited in import_closure(root / script_in(stage["cmd"]), root)}
    listed = {name for name, stage in stages.items() if f"{PACKAGE}/{module}" in stage["deps"]}
    with edited.open("a") as handle:
        handle.write("# an edit\n")
    report = json.loads(sh(root, "dvc", "status", "--json").stdout)
    changed = {name.split("@")[0] for name in report}
    assert running == RUN_BY[module], (f"the stages that run {module} are {sorted(running)}, "
                                       f"not {sorted(RUN_BY[module])}")
    assert listed == running, f"dvc.yaml: the deps that list {module} are {sorted(listed)}"
    assert changed == listed, f"dvc status after an edit to {module}: {sorted(changed)} changed"


def script_in(cmd):
    """The script a dvc.yaml cmd runs (``python stages/NAME.py ARGS``), relative to its root."""
    return next(word for word in shlex.split(cmd) if word.endswith(".py"))
