"""Rewrite each dvc.yaml stage's code deps to what its script runs: the script, the package
modules it imports at any depth and the packaged files they read (action2vec/imports.py, the
computation tests/test_dvc_yaml.py checks against). Data deps are kept, in their order.

    python scripts/dvc_deps.py      # after adding, removing or moving a module's imports
"""

import shlex
import textwrap
from pathlib import Path

import yaml

from action2vec.imports import import_closure, resources_read

ROOT = Path(__file__).resolve().parents[1]
INDENT = " " * len("    deps: [")


def is_code(dep):
    return not dep.startswith('"') and (dep.endswith(".py") or "/resources/" in dep)


def code_deps(cmd):
    script = ROOT / next(w for w in shlex.split(cmd) if w.endswith(".py"))
    modules = import_closure(script, ROOT)
    paths = [script, *sorted(modules - {script}), *sorted(resources_read(modules, ROOT))]
    return [str(p.relative_to(ROOT)) for p in paths]


def rewrite(lines, stages):
    out, i, stage = [], 0, None
    while i < len(lines):
        line = lines[i]
        if line.startswith("  ") and not line.startswith("   ") and line.rstrip().endswith(":"):
            stage = line.strip()[:-1]
        if not line.startswith("    deps: ["):
            out.append(line)
            i += 1
            continue
        end = i
        while not lines[end].rstrip().endswith("]"):
            end += 1
        body = " ".join(x.strip() for x in lines[i:end + 1])[len("deps: ["):-1]
        data = [d for d in (x.strip() for x in body.split(",")) if d and not is_code(d)]
        wrapped = textwrap.wrap(", ".join(data + code_deps(stages[stage]["cmd"])),
                                width=100 - len(INDENT), break_long_words=False,
                                break_on_hyphens=False)
        out.append("    deps: [" + ("\n" + INDENT).join(wrapped) + "]")
        i = end + 1
    return out


def main():
    path = ROOT / "dvc.yaml"
    text = path.read_text()
    path.write_text("\n".join(rewrite(text.split("\n"), yaml.safe_load(text)["stages"])))


if __name__ == "__main__":
    main()
