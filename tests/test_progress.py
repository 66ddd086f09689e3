"""Progress bars: tqdm's on a terminal, plain lines in a log file."""

import io
import re
import subprocess
import sys
import time

import pytest

from action2vec.progress import STEP, bar, duration

from conftest import ROOT


class Terminal(io.StringIO):
    def isatty(self):
        return True


def stderr_of(snippet, tmp_path):
    """What a Python snippet writes to stderr when stderr is a file, as a real job's log."""
    log = tmp_path / "log.txt"
    with open(log, "w") as f:
        subprocess.run([sys.executable, "-c", snippet], cwd=ROOT, stderr=f, check=True)
    return log.read_text()


@pytest.mark.slow  # a process of its own
def test_a_log_file_gets_a_plain_line_every_step_and_one_at_the_end(tmp_path):
    text = stderr_of("from action2vec.progress import bar\n"
                     "for _ in bar(range(1000), desc='loop'): pass\n", tmp_path)
    assert "\r" not in text and "\x1b" not in text
    lines = text.splitlines()
    assert len(lines) == 100 // STEP  # 10%, ..., 90%, and the last
    assert lines[0] == "loop: 100/1000 it (10%), 0s elapsed, ~0s left"
    assert lines[-1] == "loop: 1000/1000 it (100%), 0s elapsed"


def test_a_line_names_the_units_and_ends_with_the_postfix():
    out = io.StringIO()
    with bar(total=120, desc="train", unit="epoch", file=out) as epochs:
        for i in range(120):
            epochs.update()
            epochs.set_postfix(loss=f"{i:.1f}")
        assert epochs.n == 120
    lines = out.getvalue().splitlines()
    assert lines[3] == "train: 48/120 epochs (40%), 0s elapsed, ~0s left, loss=46.0"
    assert lines[-1] == "train: 120/120 epochs (100%), 0s elapsed, loss=119.0"


def test_without_steps_a_line_comes_after_each_interval():
    def slow(n):
        for i in range(n):
            time.sleep(0.03)
            yield i

    out = io.StringIO()
    for _ in bar(slow(10), desc="scan", file=out, interval=0.05):
        pass
    lines = out.getvalue().splitlines()
    assert 3 <= len(lines) <= 7  # about one every two items, and the last
    assert all(re.fullmatch(r"scan: \d+ it, 0s elapsed", line) for line in lines)
    assert lines[-1] == "scan: 10 it, 0s elapsed"
    out = io.StringIO()  # with the default interval, only the last line
    for _ in bar(slow(5), desc="scan", file=out):
        pass
    assert out.getvalue() == "scan: 5 it, 0s elapsed\n"


def test_a_terminal_gets_tqdm_and_disable_writes_nothing():
    screen = Terminal()
    for _ in bar(range(50), desc="loop", file=screen):
        pass
    assert "\r" in screen.getvalue() and "50/50" in screen.getvalue()
    out = io.StringIO()
    quiet = bar(range(50), file=out, disable=True)
    assert sum(1 for _ in quiet) == 50
    assert out.getvalue() == ""


def test_duration():
    assert [duration(s) for s in (0.4, 5, 65, 3725)] == ["0s", "5s", "1m05s", "1h02m05s"]


@pytest.mark.slow  # a process of its own
def test_the_render_stage_writes_lines_to_a_log_file(tmp_path):
    text = stderr_of("from action2vec.render import render_dataset\n"
                     f"render_dataset({str(tmp_path / 'videos')!r}, seed=0, videos_per_class=1, "
                     "frames=16, width=64, height=48, classes=['throw ball', 'spin ring'])\n",
                     tmp_path)
    assert "\r" not in text
    assert re.fullmatch(r"render: 1/2 videos \(50%\), \ds elapsed, ~\ds left\n"
                        r"render: 2/2 videos \(100%\), \ds elapsed\n", text)
