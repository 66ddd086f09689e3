"""The README's Python example runs as written, in a copy of the suite's pipeline project (it
loads the project in the current folder and one of its rendered videos)."""

import contextlib
import io
import re

import pytest

from conftest import ROOT


def python_example(text):
    """The code of the README's one ```python block after "From Python"."""
    after = text[text.index("\nFrom Python"):]
    found = re.search(r"```python\n(.*?)```", after, re.S)
    assert found, "no ```python block after 'From Python' in README.md"
    return found.group(1)


@pytest.mark.slow
def test_the_readme_python_example_runs(project_copy, monkeypatch):
    code = python_example((ROOT / "README.md").read_text())
    assert "Action2Vec" in code and len(code.splitlines()) < 10
    monkeypatch.chdir(project_copy)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    assert printed.getvalue().count("\n") == code.count("print(")
    assert "nan" not in printed.getvalue()  # the video was encoded
