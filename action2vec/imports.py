"""What code a script runs, read from the source with ``ast`` (nothing is imported): the modules
of the ``action2vec`` package that it imports, directly or through other modules, at any depth
(imports inside functions too), and the packaged resource files those modules name.

dvc.yaml's deps list this for each stage (tests/test_dvc_yaml.py checks them), and the train
stage keys the trainings it reuses by the code of this closure (jobs.code_digest). ``root`` is
the folder that holds the package's folder ``action2vec/`` (the repository, or a copy of the
package elsewhere); paths are given as absolute paths under it.

Names the package exports lazily (its ``LAZY`` table: ``from action2vec import Action2Vec``
imports action2vec.embedding on first use) are followed to the module that defines them.
"""

import ast
from pathlib import Path

PACKAGE = "action2vec"
ROOT = Path(__file__).resolve().parents[1]  # the folder that holds this package


def module_file(name, root=ROOT):
    """The file of module ``name`` ("action2vec.labels") if it is one of the package's, else
    None (a third-party module, or a name imported from a module rather than a module)."""
    if name.split(".")[0] != PACKAGE:
        return None
    base = Path(root).joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def package_of(path, root=ROOT):
    """The package whose relative imports ``path`` makes: "action2vec" for action2vec/labels.py
    and action2vec/__init__.py, "" for a script outside the package."""
    if not path.is_relative_to(Path(root) / PACKAGE):
        return ""
    return ".".join(path.parent.relative_to(root).parts)


def lazy_table(root=ROOT):
    """The package's ``LAZY`` table ({name: module}) as its __init__.py writes it, read without
    importing the package; {} when it has none."""
    init = Path(root) / PACKAGE / "__init__.py"
    for node in ast.parse(init.read_text(), str(init)).body:
        if (isinstance(node, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "LAZY" for t in node.targets)):
            return ast.literal_eval(node.value)
    return {}


def imported_names(path, root=ROOT):
    """Every module name an import statement anywhere in ``path`` may run, with its parent
    packages (importing a.b.c runs a, a.b and a.b.c), and each ``from m import x`` as m.x too,
    in case x is a submodule; ``from action2vec import X`` with X in the package's LAZY table
    as X's module too."""
    package = package_of(path, root).split(".")
    lazy = lazy_table(root)
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # from . import x, from ..m import x
                parent = package[:len(package) - node.level + 1]
                base = ".".join(parent + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
            if base == PACKAGE:
                names += [lazy[alias.name] for alias in node.names if alias.name in lazy]
        else:
            continue
        for name in names:
            parts = name.split(".")
            yield from (".".join(parts[:i]) for i in range(1, len(parts) + 1))


def import_closure(script, root=ROOT):
    """The package's module files that running ``script`` imports, transitively."""
    found, todo = set(), [script]
    while todo:
        for name in imported_names(todo.pop(), root):
            path = module_file(name, root)
            if path and path not in found:
                found.add(path)
                todo.append(path)
    return found


def string_constants(path):
    return {node.value for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def resources_read(modules, root=ROOT):
    """The packaged resource files that ``modules`` name (resources are opened by file name,
    e.g. ``resources.files("action2vec") / "resources" / "class_names.csv"``)."""
    folder = Path(root) / PACKAGE / "resources"
    named = set().union(*(string_constants(m) for m in modules))
    if not folder.is_dir():
        return set()
    return {path for path in folder.iterdir() if path.name in named}
