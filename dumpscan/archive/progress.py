"""Progress of a scan on stderr: a rich progress bar on a terminal (dumps done and
remaining, errors so far, rate, ETA), plain periodic lines otherwise (logs, CI, cron)."""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import TextIO

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
        self.bar = None
        if self.enabled and self.stream.isatty():
            from rich.console import Console
            from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                       TextColumn, TimeElapsedColumn, TimeRemainingColumn)

            self.bar = RichProgress(TextColumn("scan"), BarColumn(), MofNCompleteColumn(),
                                    TextColumn("{task.fields[errors]} errors"), TimeElapsedColumn(),
                                    TextColumn("ETA"), TimeRemainingColumn(),
                                    console=Console(file=self.stream), transient=False)
            self.task = self.bar.add_task("scan", total=total, errors=0)
            self.bar.start()

    def advance(self, status: str) -> None:
        self.done += 1
        self.statuses[status] += 1
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(self.task, advance=1, errors=self.statuses["error"])
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
            self.bar.stop()
            self.bar = None


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
