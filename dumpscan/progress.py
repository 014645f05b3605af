"""A progress display for long work (rich), on a terminal only.

Front ends wrap long work in :func:`progress` and call the ``advance`` it yields, or
iterate through :func:`track`; the display goes to stderr, so that stdout stays the
command's output, and only when stderr is a terminal: nothing is drawn into a pipe, a
file or a CI log.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from rich.console import Console

T = TypeVar("T")
Advance = Callable[..., None]  # advance(steps: int = 1, description: str | None = None, **fields)


def _nothing(steps: int = 1, description: str | None = None, **fields: Any) -> None:
    """``advance`` when no display is shown."""


@contextmanager
def progress(total: int | None, description: str, enabled: bool = True,
             console: "Console | None" = None, *, fields: Mapping[str, Any] | None = None,
             transient: bool = True, eta: bool = False) -> Iterator[Advance]:
    """Show a progress bar of ``total`` steps (None: unknown) while the block runs; yield
    ``advance(steps=1, description=None, **fields)``. Nothing is shown unless ``enabled``
    (a command's ``-q`` turns it off) and the console (stderr by default) is a terminal.

    ``fields``: extra counts shown after the steps, one ``"{value} {name}"`` column each
    (``{"errors": 0}`` shows ``0 errors``), updated by ``advance(errors=...)``;
    ``transient``: the bar vanishes at the end; ``eta``: an estimated time remaining."""
    if not enabled:
        yield _nothing
        return
    from rich.console import Console
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                               TimeRemainingColumn)

    console = console or Console(stderr=True)
    if not console.is_terminal:
        yield _nothing
        return
    fields = dict(fields or {})
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               *(TextColumn(f"{{task.fields[{name}]}} {name}") for name in fields), TimeElapsedColumn()]
    if eta:
        columns += [TextColumn("ETA"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=transient) as bar:
        task = bar.add_task(description, total=total, **fields)

        def advance(steps: int = 1, description: str | None = None, **counts: Any) -> None:
            bar.update(task, advance=steps, description=description, **counts)

        yield advance


def track(items: Iterable[T], description: str, *, total: int | None = None,
          quiet: bool = False, console: "Console | None" = None) -> Iterator[T]:
    """``items``, advancing a :func:`progress` bar by one per item (``total``: the
    length of ``items`` when it has one)."""
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with progress(total, description, not quiet, console) as advance:
        for item in items:
            yield item
            advance()
