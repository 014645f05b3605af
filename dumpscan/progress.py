"""Progress on a terminal: a rich progress bar on stderr while a command works through
many items (dumps), nothing when stderr is not a terminal or with ``-q``."""
from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

T = TypeVar("T")


def progress(items: Iterable[T], description: str, *, total: int | None = None,
             quiet: bool = False) -> Iterator[T]:
    """``items``, showing "description  i/total" and a bar on stderr meanwhile (when
    stderr is a terminal and not ``quiet``); the bar disappears when done."""
    if quiet or not sys.stderr.isatty():
        yield from items
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(description, total=total)
        for item in items:
            yield item
            bar.advance(task)
