"""A resumable, incremental scan of dump archives into the index.

:func:`plan` walks the archive and compares it with the index: an input whose size and
modification time are unchanged is done (no analysis, no read beyond its first bytes);
a changed one is fingerprinted and analyzed again only if its content changed; a
'needs-symbols' dump is retried when its kernel's table has appeared since, and nothing
else is. :func:`scan` runs the jobs on a :class:`~dumpscan.archive.pool.LocalPool` or a
Dask cluster (``scheduler``) and writes each outcome in its own transaction as it
arrives, so that an interrupted scan, started again, redoes at most the dumps that were
in flight.
"""
from __future__ import annotations

import functools
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.batch import one_line_error
from . import index
from .containers import ContainerError, list_members, unsafe_name
from .discover import CONTAINER_KINDS, Found, MachinePattern, walk
from .fingerprint import file_fingerprint
from .pool import Failure, LocalPool
from .progress import Progress
from .worker import Job, Settings, error_outcome, run


@dataclass
class Plan:
    jobs: list[Job] = field(default_factory=list)
    decided: list[tuple[Job, dict]] = field(default_factory=list)  # outcomes known without analysis
    unchanged: int = 0
    retried: int = 0  # needs-symbols dumps whose table has appeared


@dataclass
class Summary:
    outcomes: Counter = field(default_factory=Counter)  # status of each input handled this run
    analyzed: int = 0
    unchanged: int = 0
    retried: int = 0
    not_done: int | None = None  # when interrupted: inputs planned but not finished
    interrupted: bool = False
    seconds: float = 0.0
    totals: dict[str, int] = field(default_factory=dict)  # the index afterwards, by status

    def lines(self) -> list[str]:
        done = ", ".join(f"{n} {s}" for s, n in sorted(self.outcomes.items())) or "nothing new"
        lines = [f"{self.analyzed} inputs analyzed ({done}), {self.unchanged} unchanged"
                 + (f", {self.retried} retried now that their symbols exist" if self.retried else "")
                 + f" in {self.seconds:.1f} s"]
        if self.interrupted:
            what = f"{self.not_done} inputs not done" if self.not_done is not None else \
                "while walking the archive, nothing analyzed"
            lines.append(f"interrupted: {what}; run the same command again to finish (the index "
                         "holds every dump finished so far)")
        totals = ", ".join(f"{self.totals[s]} {s}" for s in index.STATUSES if self.totals.get(s))
        lines.append(f"index: {sum(self.totals.values())} dumps ({totals or 'none'})")
        return lines


class _Known:
    """What the index already holds, by input."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.dumps: dict[tuple[str, str | None], tuple] = {}
        for row in conn.execute("SELECT path, member, id, size, mtime_ns, fingerprint, status, "
                                "pdb_name, pdb_guid, pdb_age, machine FROM dumps"):
            self.dumps[(row[0], row[1])] = row[2:]
        self.skipped = {(p, m): (s, t) for p, m, s, t in
                        conn.execute("SELECT path, member, size, mtime_ns FROM skipped")}
        self.containers = {p: (k, s, t, n) for p, k, s, t, n in
                           conn.execute("SELECT path, kind, size, mtime_ns, members FROM containers")}
        self.members: dict[str, list[tuple[str, tuple]]] = {}  # container path -> its recorded dumps
        for (path, member), entry in self.dumps.items():
            if member is not None:
                self.members.setdefault(path, []).append((member, entry))
        self.skipped_of = Counter(path for path, _ in self.skipped)


def plan(conn: sqlite3.Connection, roots: Iterable[Path], settings: Settings, machines: MachinePattern,
         rescan: bool = False) -> Plan:
    """What a scan of ``roots`` must do, given the index."""
    known = _Known(conn)
    result = Plan()
    symbols_now: dict[tuple, bool] = {}

    def retry(entry: tuple) -> bool:
        """A 'needs-symbols' dump whose table can now be found."""
        status, pdb = entry[4], entry[5:8]
        if status != "needs-symbols" or not pdb[0]:
            return False
        if pdb not in symbols_now:
            symbols_now[pdb] = _table_exists(pdb, settings.symbol_dirs)
        return symbols_now[pdb]

    def consider(job: Job, quick_stat: tuple[int | None, int | None]) -> None:
        entry = known.dumps.get((job.path, job.member))
        if entry is not None and not rescan:
            unchanged = (entry[1], entry[2]) == quick_stat
            if not unchanged and job.member is None and job.kind == "dump" and entry[3] \
                    and _same_content(job.path, entry[3]):
                index.update_stat(conn, entry[0], job.size, job.mtime_ns)
                unchanged = True
            if unchanged:
                if entry[8] != job.machine:  # identity comes from the path: a new --machine-pattern
                    index.update_machine(conn, entry[0], job.machine)
                if retry(entry):
                    result.retried += 1
                    result.jobs.append(job)
                else:
                    result.unchanged += 1
                return
        result.jobs.append(job)

    for found in walk(roots):
        path = str(found.path)
        machine = machines.machine(found.path, found.root)
        job = Job(path, None, found.kind if found.kind == "dump" else None, found.size, found.mtime_ns,
                  machine)
        if found.error is not None:
            _decide(result, known, job, found.error, rescan)
        elif found.kind in CONTAINER_KINDS and (path, None) not in known.dumps:
            _plan_container(conn, result, known, found, machines, consider, rescan)
        else:
            consider(job, (found.size, found.mtime_ns))
    return result


def _plan_container(conn, result: Plan, known: _Known, found: Found, machines: MachinePattern,
                    consider: Callable, rescan: bool) -> None:
    path = str(found.path)
    stored = known.containers.get(path)
    if (stored is not None and not rescan and stored[1:3] == (found.size, found.mtime_ns)
            and len(known.members.get(path, ())) + known.skipped_of[path] >= stored[3]):
        # unchanged and complete: only 'needs-symbols' retries among its members
        for member, entry in known.members.get(path, ()):
            consider(Job(path, member, stored[0], entry[1], entry[2], machines.machine(found.path, found.root, member),
                         found.size), (entry[1], entry[2]))
        result.unchanged += known.skipped_of[path]
        return
    try:
        members = list_members(found.path, found.kind)
    except ContainerError as exc:
        job = Job(path, None, None, found.size, found.mtime_ns, machines.machine(found.path, found.root))
        _decide(result, known, job, str(exc), rescan)
        return
    seen: set[str] = set()
    for member in members:
        if member.name in seen:  # a name stored twice: the first one is the input
            continue
        seen.add(member.name)
        job = Job(path, member.name, found.kind, member.size, member.mtime_ns,
                  machines.machine(found.path, found.root, member.name), found.size)
        problem = unsafe_name(member.name)
        if problem is not None:
            _decide(result, known, job, f"refused: {problem}", rescan)
            continue
        skipped = known.skipped.get((path, member.name))
        if skipped is not None and not rescan and skipped == (member.size, member.mtime_ns):
            result.unchanged += 1
            continue
        consider(job, (member.size, member.mtime_ns))
    index.store_container(conn, path, found.kind, found.size, found.mtime_ns, len(seen))


def _decide(result: Plan, known: _Known, job: Job, message: str, rescan: bool) -> None:
    """An error known without analysis (unreadable file, broken container, zip slip)."""
    entry = known.dumps.get((job.path, job.member))
    if entry is not None and not rescan and (entry[1], entry[2]) == (job.size, job.mtime_ns):
        result.unchanged += 1
        return
    result.decided.append((job, error_outcome(job, message, 0.0)))


def _same_content(path: str, fingerprint: str) -> bool:
    try:
        return file_fingerprint(Path(path)) == fingerprint
    except OSError:
        return False


def _table_exists(pdb: tuple, symbol_dirs: Iterable[str]) -> bool:
    from ..symbols.finder import MissingSymbols, find_symbol_table
    from ..symbols.isf import SymbolTableError
    from ..symbols.pe import PdbIdentity

    try:
        find_symbol_table(PdbIdentity(pdb[0], pdb[1], int(pdb[2])), [Path(d) for d in symbol_dirs])
    except MissingSymbols:
        return False
    except SymbolTableError:
        return True  # a table is there but unusable: the retry reports why
    return True


# --------------------------------------------------------------------------------------
# running


@dataclass(frozen=True)
class Runner:
    """Where the jobs run: a local pool of ``workers`` processes, or a Dask scheduler."""

    workers: int = 1
    scheduler: str | None = None
    timeout: float | None = None
    max_memory: int | None = None

    def results(self, jobs: list[Job], function: Callable[[Job], dict]) -> Iterator[tuple[Job, Any]]:
        if not jobs:
            return iter(())
        if self.scheduler:
            return _dask_results(self.scheduler, jobs, function, self.timeout)
        if self.workers <= 0:
            return ((job, function(job)) for job in jobs)
        return LocalPool(function, self.workers, timeout=self.timeout, max_memory=self.max_memory).run(jobs)


def scan(conn: sqlite3.Connection, roots: list[Path], settings: Settings, runner: Runner, *,
         machines: MachinePattern | None = None, rescan: bool = False, progress: bool = True,
         report: Callable[[str], None] | None = None) -> Summary:
    """Scan ``roots`` into the index ``conn``; ``report`` gets one line per problem dump."""
    start = time.monotonic()
    summary = Summary()
    try:
        work = plan(conn, roots, settings, machines or MachinePattern(), rescan)
    except KeyboardInterrupt:  # while walking the archive: nothing analyzed yet
        summary.interrupted, summary.seconds = True, time.monotonic() - start
        summary.totals = _totals(conn)
        return summary
    summary.unchanged, summary.retried = work.unchanged, work.retried
    meter = Progress(len(work.jobs) + len(work.decided), enabled=progress)
    remaining = len(work.jobs) + len(work.decided)

    def record(job: Job, outcome: Any) -> None:
        nonlocal remaining
        if isinstance(outcome, Failure):
            outcome = error_outcome(job, outcome.message)
        index.store(conn, outcome)
        remaining -= 1
        if "dump" in outcome:
            row = outcome["dump"]
            summary.outcomes[row["status"]] += 1
            if row["status"] != "ok" and report is not None:
                report(f"{job.label}: {row['status']}: {row.get('error') or row.get('note') or ''}".rstrip(": "))
            meter.advance(row["status"])
        else:
            summary.outcomes["not a dump (skipped)"] += 1
            meter.advance("skipped")
        summary.analyzed += 1

    try:
        for job, outcome in work.decided:
            record(job, outcome)
        for job, outcome in runner.results(work.jobs, functools.partial(run, settings=settings)):
            record(job, outcome)
    except KeyboardInterrupt:
        summary.interrupted = True
        summary.not_done = remaining
    finally:
        meter.close()
    summary.seconds = time.monotonic() - start
    summary.totals = _totals(conn)
    return summary


def _totals(conn: sqlite3.Connection) -> dict[str, int]:
    return dict(conn.execute("SELECT status, count(*) FROM dumps GROUP BY status").fetchall())


def _dask_results(address: str, jobs: list[Job], function: Callable[[Job], dict],
                  timeout: float | None) -> Iterator[tuple[Job, Any]]:
    """Run the jobs on a Dask cluster, as many at a time as it has worker threads (so that a
    job's time since submission is its running time, for ``timeout``)."""
    from distributed import Client, wait

    with Client(address, timeout="30s") as client:
        window = max(1, sum(client.nthreads().values()))
        todo = iter(jobs)
        running: dict[Any, tuple[Job, float]] = {}

        def submit() -> None:
            job = next(todo, None)
            if job is not None:
                future = client.submit(function, job, pure=False)
                running[future] = (job, time.monotonic())

        for _ in range(window):
            submit()
        try:
            while running:
                wait_for = None
                if timeout:
                    wait_for = max(0.05, min(timeout - (time.monotonic() - t) for _, t in running.values()))
                try:
                    done, _ = wait(list(running), timeout=wait_for, return_when="FIRST_COMPLETED")
                except TimeoutError:
                    done = set()
                for future in done:
                    job, _ = running.pop(future)
                    try:
                        result = future.result()
                    except Exception as exc:  # KilledWorker and the like
                        result = Failure(f"the Dask worker failed on this dump: {one_line_error(exc)}")
                    yield job, result
                    submit()
                for future, (job, started) in list(running.items()):
                    if timeout and time.monotonic() - started > timeout:
                        future.cancel()
                        running.pop(future)
                        yield job, Failure(f"analysis exceeded --timeout {timeout:g} s; stopped")
                        submit()
        finally:
            for future in running:
                future.cancel()
