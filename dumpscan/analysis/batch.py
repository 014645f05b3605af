"""Scan an archive of crash dumps: one summary row per dump.

:func:`scan_archive` runs an ``analyze(path) -> report dict`` callable on every dump in
a process pool and yields a :class:`BatchRow` per dump. A dump whose analysis raises
becomes a row with status ``error`` and the one-line error; a worker process that dies
outright (a crash in native code, the OOM killer) is retried alone in a fresh pool and,
if it dies again, reported the same way. Either way the other dumps go on.

``analyze`` must be picklable (a module-level function) when ``workers >= 1``;
``workers=0`` runs everything in this process, in order.

With a per-dump ``timeout``, every dump is analysed in a worker process of its own
(:func:`run_isolated`), killed at the deadline: that dump becomes an error row and the
others go on.
"""
from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass, fields
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from ..inputs import input_problem
from .leaks import (Thresholds, analyze as analyze_leaks, bugcheck, display_tag, kernel_build,
                    top_suspect_line)

DUMP_SUFFIX = ".dmp"  # matched case-insensitively: .dmp, .DMP, .Dmp


@dataclass(frozen=True)
class BatchRow:
    """The summary of one dump (``status`` 'ok' or 'error')."""

    dump: str
    status: str
    error: str | None = None
    kernel_build: str | None = None
    machine: str | None = None
    dump_type: int | None = None
    bugcheck: str | None = None          # '0x000000D1 (9d200000, 2, 0, 98726674)'-like
    top_suspect: str | None = None       # leaks.top_suspect_line of the first suspect
    top_tag: str | None = None           # tag with the most outstanding bytes
    top_tag_bytes: int | None = None
    suspects: int | None = None
    exit_status: int | None = None       # leaks.exit_status for this dump
    seconds: float | None = None         # wall time of analyze + summary

    def as_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def columns(cls) -> list[str]:
        return [f.name for f in fields(cls)]


_BUILTIN_ERRORS = (OSError, ValueError, KeyError, TypeError, RuntimeError, AttributeError,
                   IndexError, LookupError, ArithmeticError, NotImplementedError)


def one_line_error(exc: BaseException) -> str:
    """What is wrong, on one line (whitespace runs, newlines included, become one space):
    the formatter of every one-line error of the command line, the batch rows and the
    plugins. An exception with a ``message`` attribute (``DumpOpenError``,
    ``DumpFormatError``: their ``str()`` adds the dump path, which the caller prints
    itself) gives that; a built-in exception is prefixed with its type
    ('KeyError: 'x''); dumpscan's own exceptions speak for themselves."""
    message = getattr(exc, "message", None)
    if isinstance(message, str) and message.strip():
        return " ".join(message.split())
    text = " ".join(str(exc).split())
    if isinstance(exc, _BUILTIN_ERRORS) and not type(exc).__module__.startswith("dumpscan"):
        return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
    return text or type(exc).__name__


def iter_dumps(root: str | os.PathLike) -> Iterator[Path]:
    """Every *.dmp / *.DMP regular file under ``root`` (recursively, sorted; FIFOs,
    devices and broken or looping links are skipped, directory links not followed), or
    ``root`` itself when it is a file."""
    root = Path(root)
    if root.is_file():
        yield root
        return
    found = [p for p in root.rglob("*") if p.suffix.lower() == DUMP_SUFFIX and p.is_file()]
    yield from sorted(found)


def expand_paths(paths: Iterable[str | os.PathLike]) -> list[Path]:
    """Files as given, directories walked with :func:`iter_dumps`; duplicates dropped."""
    out: list[Path] = []
    seen: set[Path] = set()
    for item in paths:
        item = Path(item)
        for path in (iter_dumps(item) if item.is_dir() else [item]):
            if path not in seen:
                seen.add(path)
                out.append(path)
    return out


def summarize(path: str | os.PathLike, report: Mapping, thresholds: Thresholds | None = None,
              seconds: float | None = None) -> BatchRow:
    """The batch row of one analysed dump (uses ``report['leaks']`` when present)."""
    leaks = report.get("leaks") if isinstance(report.get("leaks"), dict) else None
    if leaks is None or "suspects" not in leaks:
        leaks = analyze_leaks(report, thresholds)
    suspects = leaks.get("suspects") or []
    tags = leaks.get("tags") or []
    check = bugcheck(report)
    check_text = None
    if check is not None:
        params = ", ".join(f"{p:x}" for p in check[1])
        check_text = f"{check[0]:#010X}".replace("0X", "0x") + (f" ({params})" if params else "")
    dump = report.get("dump") or {}
    return BatchRow(
        dump=str(path), status="ok", kernel_build=kernel_build(report),
        machine=dump.get("machine"), dump_type=dump.get("dump_type"), bugcheck=check_text,
        top_suspect=top_suspect_line(suspects[0]) if suspects else None,
        top_tag=display_tag(tags[0]["tag"]) if tags else None,
        top_tag_bytes=tags[0]["bytes"] if tags else None,
        suspects=len(suspects),
        exit_status=leaks.get("exit_status"),
        seconds=seconds)


def _run_one(analyze: Callable[[Path], Mapping], path: Path,
             thresholds: Thresholds | None) -> BatchRow:
    start = time.monotonic()
    try:
        report = analyze(path)
        if not isinstance(report, Mapping):
            raise TypeError(f"analyze returned {type(report).__name__}, not a report dict")
        return summarize(path, report, thresholds, seconds=round(time.monotonic() - start, 3))
    except Exception as exc:  # one bad dump never stops the others
        return BatchRow(dump=str(path), status="error", error=one_line_error(exc),
                        seconds=round(time.monotonic() - start, 3))


def scan_archive(paths: Iterable[str | os.PathLike], analyze: Callable[[Path], Mapping],
                 workers: int | None = None, *, thresholds: Thresholds | None = None,
                 ordered: bool = True, timeout: float | None = None) -> Iterator[BatchRow]:
    """One :class:`BatchRow` per dump of ``paths`` (files, or directories walked for
    *.dmp recursively). ``workers``: process-pool size (default: CPU count); 0 = run in
    this process (1 worker process with a ``timeout``). ``ordered``: yield in input
    order (else as finished). ``timeout``: seconds per dump (see the module docstring)."""
    todo = expand_paths(paths)
    if workers is None:
        workers = os.cpu_count() or 1
    if timeout is not None:
        # a path that is no regular file is an error row at once, before any clock starts
        finished = {i: BatchRow(dump=str(p), status="error", error=problem)
                    for i, p in enumerate(todo) if (problem := input_problem(p))}
        runnable = [i for i in range(len(todo)) if i not in finished]
        next_out = 0
        if not ordered:
            yield from finished.values()
        for position, outcome in run_isolated(_run_one, [(analyze, todo[i], thresholds) for i in runnable],
                                              max(workers, 1), timeout):
            index = runnable[position]
            row = outcome.value if outcome.ok else BatchRow(dump=str(todo[index]), status="error",
                                                            error=outcome.error, seconds=outcome.seconds)
            if not ordered:
                yield row
                continue
            finished[index] = row
            while next_out in finished:
                yield finished.pop(next_out)
                next_out += 1
        yield from (finished[i] for i in sorted(finished))  # error rows after the last runnable one
        return
    if workers <= 0:
        for path in todo:
            yield _run_one(analyze, path, thresholds)
        return

    results: dict[int, BatchRow] = {}
    next_out = 0

    def ready() -> Iterator[BatchRow]:
        nonlocal next_out
        if not ordered:
            return
        while next_out in results:
            yield results.pop(next_out)
            next_out += 1

    died: list[int] = []
    with ProcessPoolExecutor(max_workers=min(workers, max(len(todo), 1))) as pool:
        futures: dict[Future, int] = {pool.submit(_run_one, analyze, p, thresholds): i
                                      for i, p in enumerate(todo)}
        for future in as_completed(futures):
            index = futures[future]
            row = _result(future, todo[index], died, index)
            if row is None:
                continue
            if ordered:
                results[index] = row
                yield from ready()
            else:
                yield row
    # Dumps whose worker died (or that were in flight when one died): alone, one by one.
    for index in sorted(died):
        with ProcessPoolExecutor(max_workers=1) as pool:
            future = pool.submit(_run_one, analyze, todo[index], thresholds)
            try:
                row = future.result()
            except BrokenProcessPool:
                row = BatchRow(dump=str(todo[index]), status="error",
                               error="worker process died while analysing this dump")
            except Exception as exc:
                row = BatchRow(dump=str(todo[index]), status="error", error=one_line_error(exc))
        if ordered:
            results[index] = row
        else:
            yield row
    if ordered:
        for index in sorted(results):
            yield results[index]


def _result(future: Future, path: Path, died: list[int], index: int) -> BatchRow | None:
    try:
        return future.result()
    except BrokenProcessPool:
        died.append(index)
        return None
    except Exception as exc:  # e.g. analyze could not be pickled
        return BatchRow(dump=str(path), status="error", error=one_line_error(exc))


@dataclass(frozen=True)
class Outcome:
    """How one call of :func:`run_isolated` ended: its value, or a one-line error."""

    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float | None = None


def _call_and_send(fn: Callable[..., Any], args: tuple, connection: Connection) -> None:
    """Worker side: ``fn(*args)`` and its outcome sent back (an error as one line)."""
    try:
        message: tuple = (True, fn(*args))
    except BaseException as exc:  # one line back to the parent, never a traceback
        message = (False, one_line_error(exc))
    try:
        connection.send(message)
    except Exception as exc:  # e.g. a value that cannot be pickled
        connection.send((False, one_line_error(exc)))
    connection.close()


def run_isolated(fn: Callable[..., Any], calls: Sequence[tuple], workers: int,
                 timeout: float) -> Iterator[tuple[int, Outcome]]:
    """``fn(*call)`` for each call, each in a worker process of its own, at most
    ``workers`` at once: (index, :class:`Outcome`) as each ends. A worker still running
    ``timeout`` seconds after its start is killed: its outcome is the one-line error
    'stopped after the time limit of N s'. A worker that dies without an answer becomes
    'worker process died ...'. ``fn`` and the calls must be picklable."""
    context = multiprocessing.get_context()
    pending = list(enumerate(calls))[::-1]
    running: dict[Connection, tuple[int, multiprocessing.process.BaseProcess, float]] = {}
    try:
        while pending or running:
            while pending and len(running) < max(workers, 1):
                index, call = pending.pop()
                receiver, sender = context.Pipe(duplex=False)
                process = context.Process(target=_call_and_send, args=(fn, tuple(call), sender), daemon=True)
                process.start()
                sender.close()
                running[receiver] = (index, process, time.monotonic())
            deadline = min(started for _, _, started in running.values()) + timeout
            ready = wait(list(running), timeout=max(0.0, deadline - time.monotonic()))
            now = time.monotonic()
            for receiver in list(running):
                index, process, started = running[receiver]
                if receiver in ready:
                    try:
                        ok, value = receiver.recv()
                        outcome = Outcome(ok, value if ok else None, None if ok else value)
                    except (EOFError, OSError):
                        outcome = Outcome(False, error="worker process died while analysing this dump")
                elif now - started >= timeout:
                    process.kill()
                    outcome = Outcome(False, error=f"stopped after the time limit of {timeout:g} s")
                else:
                    continue
                process.join()
                receiver.close()
                del running[receiver]
                yield index, Outcome(outcome.ok, outcome.value, outcome.error, round(now - started, 3))
    finally:  # the caller stopped early (or an error): no worker outlives the call
        for receiver, (_, process, _) in running.items():
            process.kill()
            process.join()
            receiver.close()
