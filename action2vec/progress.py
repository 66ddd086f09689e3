"""Progress bars that read well in a terminal and in a log file.

On a terminal, ``bar`` is tqdm's bar. Elsewhere (CI, `dvc exp run` logs, cluster jobs, a file),
hundreds of carriage-return updates would make one unreadable line, so it writes a plain line
each time progress passes another STEP percent of the total, or INTERVAL seconds after the last
line, and a last line on close:

    train: 40/120 epochs (33%), 1m05s elapsed, ~2m10s left, loss=0.2170
"""

import sys

from tqdm import tqdm

STEP = 10  # percent of the total between two plain lines
INTERVAL = 30  # seconds after which a plain line is written even without a new step


def bar(iterable=None, interval=INTERVAL, **kwargs):
    """``tqdm.tqdm(iterable, **kwargs)`` when its stream (``file``, stderr by default) is a
    terminal, else a ``PlainBar`` with a line every ``interval`` seconds at least."""
    if kwargs.get("disable") or is_terminal(kwargs.get("file") or sys.stderr):
        return tqdm(iterable, **kwargs)
    return PlainBar(iterable, interval=interval, **kwargs)


def is_terminal(stream):
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):  # no isatty, or a closed stream
        return False


def duration(seconds):
    """65 -> "1m05s", 3725 -> "1h02m05s", 5 -> "5s"."""
    minutes, s = divmod(int(round(seconds)), 60)
    h, m = divmod(minutes, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else f"{m}m{s:02d}s" if m else f"{s}s"


class PlainBar(tqdm):
    """A tqdm bar that writes whole lines (no carriage return, no ANSI code): one at each STEP
    percent of the total, one ``interval`` seconds after the last, one on close. Without a
    total, only the timed lines and the last. Everything else (update, set_postfix, n, the
    context manager) is tqdm's."""

    def __init__(self, iterable=None, *args, interval=INTERVAL, **kwargs):
        self.interval, self.line_t = interval, None  # the base __init__'s display writes nothing
        # every update reaches display(), which decides whether a line is due
        super().__init__(iterable, *args, **{**kwargs, "mininterval": 0, "miniters": 0})
        if not self.disable:
            self.line_t, self.line_step = self.start_t, self.step()

    def step(self):
        return int(self.n * 100 // (self.total * STEP)) if self.total else 0

    def line(self, last=False):
        elapsed = self._time() - self.start_t
        unit = self.unit if self.unit == "it" else f"{self.unit}s"
        parts = ([f"{self.n}/{self.total} {unit} ({int(100 * self.n / self.total)}%)"]
                 if self.total else [f"{self.n} {unit}"])
        parts.append(f"{duration(elapsed)} elapsed")
        done = self.n - self.initial
        if self.total and done > 0 and not last:
            parts.append(f"~{duration(elapsed * (self.total - self.n) / done)} left")
        if self.postfix:
            parts.append(self.postfix)
        return (f"{self.desc}: " if self.desc else "") + ", ".join(parts)

    def write_line(self, last=False):
        self.fp.write(self.line(last) + "\n")
        self.fp.flush()

    def display(self, msg=None, pos=None):
        if self.line_t is None:
            return True
        now, step = self._time(), self.step()
        finished = self.total and self.n >= self.total  # its line is the one close writes
        if (step > self.line_step and not finished) or now - self.line_t >= self.interval:
            self.write_line()
            self.line_t, self.line_step = now, step
        return True

    def clear(self, nolock=False):
        """Nothing to clear: lines stay."""

    def close(self):
        if not self.disable:
            self.write_line(last=True)
        self.sp = None  # the base close then only unregisters the bar
        super().close()
