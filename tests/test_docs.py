"""The docs stay true: every relative link resolves (to a file, and to a heading where it names
one), every command the README shows exists (make targets, `action2vec` subcommands and their
options, `dvc` subcommands and their flags, params keys set with -S), and the README fits one
screen. In-process and fast: no subprocess, no pipeline run."""

import argparse
import contextlib
import io
import itertools
import re
import shlex
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CHANGELOG = ROOT / "CHANGELOG.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, CHANGELOG, *DOCS]
README_MAX_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)\s*([\w+-]*)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
CODE_SPAN = re.compile(r"(`+)(.+?)\1")
# [text](target) and ![alt](target), with an optional "title"; text may hold one level of [].
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
EXTERNAL = ("http://", "https://", "mailto:")
SHELL_BLOCKS = {"sh", "bash", "shell", "console"}
# a redirection, a pipe or a list: the command ends there
SHELL_OPERATOR = re.compile(r"^(\d*[<>]|\||&&|;|&$)")


def parse_markdown(text):
    """(the lines outside fenced blocks, [(language, [lines])] of the fenced blocks)."""
    prose, blocks, block = [], [], None
    for line in text.splitlines():
        fence = FENCE.match(line)
        if block is None and fence:
            block = (fence.group(2).lower(), [])
        elif block is not None and fence and not fence.group(2):
            blocks.append(block)
            block = None
        elif block is not None:
            block[1].append(line)
        else:
            prose.append(line)
    assert block is None, "a code block is not closed"
    return prose, blocks


def code_spans(text):
    """The inline code spans of the prose (fenced blocks left out)."""
    spans, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
        elif not inside:
            spans += [m.group(2).strip() for m in CODE_SPAN.finditer(line)]
    return spans


def slug(heading):
    """GitHub's anchor for a heading: link text kept, lower case, punctuation other than - and _
    dropped, spaces turned into -."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """Every heading anchor of a Markdown file, with GitHub's -1, -2 ... for repeats."""
    prose, _ = parse_markdown(path.read_text())
    seen, out = {}, set()
    for line in prose:
        m = HEADING.match(line)
        if not m:
            continue
        base = slug(m.group(2))
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def link_problems(page, root=ROOT):
    """One line per relative link of ``page`` that does not resolve."""
    prose, _ = parse_markdown(page.read_text())
    problems = []

    def shown(path):
        return path.relative_to(root) if path.is_relative_to(root) else path

    for target in (m.group(1) for line in prose for m in LINK.finditer(CODE_SPAN.sub("", line))):
        if target.startswith(EXTERNAL):
            continue
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        name = f"{shown(page)}: link {target!r}"
        if not file.exists():
            problems.append(f"{name}: {shown(file)} does not exist")
        elif anchor and file.suffix != ".md":
            problems.append(f"{name}: an anchor into a file that is not Markdown")
        elif anchor and anchor not in anchors(file):
            problems.append(f"{name}: {shown(file)} has no heading with anchor #{anchor}")
    return problems


# ------------------------------------------------------------------ commands


def shell_commands(text):
    """The commands of a page's shell blocks (console blocks: the lines after a "$ " prompt),
    continuation lines joined, split into words with comments left out."""
    _, blocks = parse_markdown(text)
    commands = []
    for language, lines in blocks:
        if language not in SHELL_BLOCKS:
            continue
        joined, pending = [], ""
        for line in lines:
            if language == "console":
                if line.startswith("$ "):
                    line = line[2:]
                elif not pending:
                    continue  # output
            line = pending + line.strip()
            if line.endswith("\\"):
                pending = line[:-1] + " "
                continue
            pending = ""
            if line and not line.startswith("#"):
                joined.append(line)
        commands += [shlex.split(line, comments=True) for line in joined]
    return [words for words in commands if words]


def page_commands(page):
    """Every command a page shows: in its shell blocks and as inline code."""
    text = page.read_text()
    inline = [shlex.split(span) for span in code_spans(text)
              if span.split(" ", 1)[0] in ("make", "dvc", "action2vec") and " " in span]
    return shell_commands(text) + inline


def makefile_targets():
    targets = set()
    for line in (ROOT / "Makefile").read_text().splitlines():
        m = re.match(r"^([^\s:#=$][^:#=]*?)\s*::?(?!=)", line)
        if m:
            targets.update(m.group(1).split())
    return targets


def params_keys():
    """Every dotted key of params.yaml, sections included."""
    def walk(node, prefix):
        for key, value in node.items():
            name = f"{prefix}{key}"
            yield name
            if isinstance(value, dict):
                yield from walk(value, f"{name}.")
    return set(walk(yaml.safe_load((ROOT / "params.yaml").read_text()), ""))


def set_params(words):
    """The params keys a command sets with -S/--set-param key=value, but for "+key=value",
    which adds a key that is not there."""
    keys = []
    for i, word in enumerate(words):
        value = None
        if word in ("-S", "--set-param") and i + 1 < len(words):
            value = words[i + 1]
        elif word.startswith("--set-param="):
            value = word.split("=", 1)[1]
        if value is not None and not value.startswith("+"):
            keys.append(value.split("=", 1)[0].lstrip("~"))
    return keys


def subparsers(parser):
    return next((a for a in parser._actions if isinstance(a, argparse._SubParsersAction)), None)


def parse_problems(parser, words, name):
    """Problems argparse finds with ``words`` (an unknown subcommand or flag, a missing
    argument), and long flags that only pass as abbreviations of real ones."""
    chain, current = [parser], parser
    for word in words:
        action = subparsers(current)
        if action is None:
            break
        if word.startswith("-"):
            continue
        if word not in action.choices:
            return [f"{name}: {word!r} is not a subcommand (choices: "
                    f"{', '.join(sorted(action.choices))})"]
        current = action.choices[word]
        chain.append(current)
    flags = {f for p in chain for f in p._option_string_actions}
    problems = [f"{name}: no flag {w.split('=')[0]!r}" for w in words
                if w.startswith("--") and w.split("=")[0] not in flags]
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors), contextlib.redirect_stdout(io.StringIO()):
            parser.parse_args(words)
    except (SystemExit, Exception) as exc:  # dvc's parser raises DvcParserError
        said = [line for line in errors.getvalue().splitlines() if "error" in line.lower()]
        problems.append(f"{name}: its parser refuses it: {said[-1] if said else exc!r}")
    return problems


def command_problems(commands):
    from dvc.cli.parser import get_main_parser

    from action2vec.cli import parser as action2vec_parser

    targets, keys = makefile_targets(), params_keys()
    problems = []
    for words in commands:
        name = " ".join(words)
        words = list(itertools.takewhile(lambda w: not SHELL_OPERATOR.match(w), words))
        for key in set_params(words):
            if key not in keys:
                problems.append(f"{name}: params.yaml has no key {key!r}")
        program, args = words[0], words[1:]
        if program == "make":
            problems += [f"{name}: the Makefile has no target {w!r}" for w in args
                         if not w.startswith("-") and "=" not in w and w not in targets]
        elif program == "dvc":
            problems += parse_problems(get_main_parser(), args, name)
        elif program == "action2vec":
            problems += parse_problems(action2vec_parser(), args, name)
    return problems


# ------------------------------------------------------------------ tests


def test_pages_exist():
    assert README.is_file() and CHANGELOG.is_file()
    assert {p.name for p in DOCS} >= {"protocol.md", "deviations.md", "leakage.md",
                                      "datasets.md", "command.md", "operations.md",
                                      "results.md", "speed.md"}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    assert link_problems(page) == []


def test_readme_links_every_doc():
    linked = {(README.parent / m.group(1).partition("#")[0]).resolve()
              for line in parse_markdown(README.read_text())[0]
              for m in LINK.finditer(CODE_SPAN.sub("", line))}
    assert [str(p.relative_to(ROOT)) for p in DOCS if p.resolve() not in linked] == []


def test_readme_commands_exist():
    commands = page_commands(README)
    programs = {words[0] for words in commands}
    assert {"make", "dvc", "action2vec"} <= programs, "the README's commands were not found"
    assert command_problems(commands) == []


def test_readme_params_keys_exist():
    """-S key=value anywhere in the README's code, also outside a whole command."""
    text = README.read_text()
    code = code_spans(text) + [line for _, lines in parse_markdown(text)[1] for line in lines]
    used = [key for span in code for key in set_params(shlex.split(span, comments=True))]
    assert used, "no -S key=value found in the README"
    assert sorted(set(used) - params_keys()) == []


@pytest.mark.parametrize("page", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_docs_commands_exist(page):
    assert command_problems(page_commands(page)) == []


def test_readme_fits_one_screen():
    lines = len(README.read_text().splitlines())
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines, at most {README_MAX_LINES}"


# ------------------------------------------------------------------ the checks can fail


def test_checks_catch_broken_docs(tmp_path):
    """Each check fails on a page that breaks it."""
    (tmp_path / "a.md").write_text("# Title here\n\n## Sub: part `x`\n")
    page = tmp_path / "b.md"
    page.write_text("[ok](a.md#title-here) [ok](a.md#sub-part-x) [ok](https://x.org/#nope)\n"
                    "[bad](nope.md) [bad](a.md#nope) `[code](nope.md)`\n"
                    "```python\n[code](nope.md)\n```\n")
    problems = link_problems(page, tmp_path)
    assert len(problems) == 2 and "nope.md" in problems[0] and "#nope" in problems[1]

    commands = shell_commands("```sh\nmake nonexistent\ndvc exp run -S lambdaa=0.1\n"
                              "dvc exp show --only-changd\ndvc nosuchcommand\n"
                              "action2vec nosuch x\naction2vec embed --nosuch x.mp4\n"
                              "make run   # fine\ndvc exp run -S lambda=0.1 \\\n"
                              "    -S zsl.n_splits=3\n```\n")
    problems = command_problems(commands)
    for expected in ("no target 'nonexistent'", "no key 'lambdaa'", "no flag '--only-changd'",
                     "'nosuchcommand' is not a subcommand", "'nosuch' is not a subcommand",
                     "no flag '--nosuch'"):
        assert any(expected in p for p in problems), (expected, problems)
    assert not any(p.startswith(("make run", "dvc exp run -S lambda=0.1")) for p in problems)
