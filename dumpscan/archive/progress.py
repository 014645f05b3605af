"""Progress of a scan on stderr: a rich progress bar on a terminal (dumps done and
remaining, errors so far, rate, ETA: :func:`dumpscan.progress.progress`), plain periodic
lines otherwise (logs, CI, cron)."""
from __future__ import annotations

import sys
import time
from collections import Counter
from contextlib import ExitStack
from typing import TextIO

from ..progress import Advance, progress

PLAIN_EVERY_SECONDS = 10.0


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None, every: float = PLAIN_EVERY_SECONDS,
                 enabled: bool = True) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.every = every
        self.enabled = enabled and total > 0
        self.statuses: Counter[str] = Counter()
        self.done = 0
        self.start = time.monotonic()
        self.last_line = self.start
        self.bar: ExitStack | None = None
        self.advance_bar: Advance | None = None
        if self.enabled and self.stream.isatty():
            from rich.console import Console

            self.bar = ExitStack()
            self.advance_bar = self.bar.enter_context(progress(
                total, "scan", console=Console(file=self.stream, force_terminal=True),
                fields={"errors": 0}, transient=False, eta=True))

    def advance(self, status: str) -> None:
        self.done += 1
        self.statuses[status] += 1
        if not self.enabled:
            return
        if self.advance_bar is not None:
            self.advance_bar(errors=self.statuses["error"])
            return
        now = time.monotonic()
        if now - self.last_line >= self.every:
            self.last_line = now
            self.stream.write(f"dumpscan: scan: {self.line(now)}\n")
            self.stream.flush()

    def line(self, now: float | None = None) -> str:
        elapsed = (now or time.monotonic()) - self.start
        rate = self.done / elapsed if elapsed > 0 else 0.0
        eta = (self.total - self.done) / rate if rate > 0 else None
        text = f"{self.done}/{self.total} done, {self.statuses['error']} errors, {rate:.1f} dumps/s"
        return text + (f", ETA {_duration(eta)}" if eta is not None else "")

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = self.advance_bar = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
