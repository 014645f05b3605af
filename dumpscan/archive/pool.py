"""A local pool of long-lived worker processes, each job under a time and memory limit.

``concurrent.futures`` cannot stop one running job (its pool breaks as a whole when a
worker dies), so the scan supervises its workers itself, with the standard library's
``multiprocessing``: each worker runs one job at a time; the coordinator knows which, kills
a worker whose job passes its deadline, and replaces a worker that died. A job whose
worker died is run once more (the death may have had nothing to do with it: ``kill -9``
by an operator, the OOM killer choosing it); if its worker dies again, it is reported.

Workers start from a fork server that imported the engine once (so a replacement starts
in milliseconds), ignore SIGINT (Ctrl-C is the coordinator's to handle), die with the fork
server when the coordinator dies (Linux ``PR_SET_PDEATHSIG``), and run under
``RLIMIT_AS`` = ``max_memory``. Symbol tables stay loaded in a worker between jobs.
"""
from __future__ import annotations

import ctypes
import multiprocessing
import signal
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any

PRELOAD = ["dumpscan.archive.worker", "dumpscan.analysis.engine", "dumpscan.vol.open"]
PR_SET_PDEATHSIG = 1


@dataclass
class Failure:
    """A job that did not give a result: its worker died twice, or it passed its deadline."""

    message: str


def _worker_main(conn: Connection, function: Callable, max_memory: int | None) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # not Linux: the pipe's EOF still ends the worker
        pass
    if max_memory:
        import resource

        resource.setrlimit(resource.RLIMIT_AS, (max_memory, max_memory))
    while True:
        try:
            ticket, job = conn.recv()
        except (EOFError, OSError):
            return
        result = function(job)
        try:
            conn.send((ticket, result))
        except (BrokenPipeError, OSError):
            return


class _Worker:
    def __init__(self, context, function: Callable, max_memory: int | None) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child, function, max_memory), daemon=True)
        self.process.start()
        child.close()
        self.ticket: int | None = None
        self.started = 0.0

    def give(self, ticket: int, job: Any) -> None:
        self.ticket, self.started = ticket, time.monotonic()
        self.conn.send((ticket, job))

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join(5)
        self.conn.close()


class LocalPool:
    """Run ``function(job)`` for every job on ``workers`` processes; yields (job, result)
    as jobs finish, the result being ``function``'s or a :class:`Failure`."""

    def __init__(self, function: Callable[[Any], Any], workers: int, *, timeout: float | None = None,
                 max_memory: int | None = None) -> None:
        self.function = function
        self.size = max(1, workers)
        self.timeout = timeout
        self.max_memory = max_memory
        self.context = multiprocessing.get_context("forkserver")
        self.context.set_forkserver_preload(PRELOAD)
        self.workers: list[_Worker] = []

    def run(self, jobs: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        pending = deque(enumerate(jobs))
        jobs_by_ticket = dict(pending)
        deaths: dict[int, int] = {}
        try:
            self.workers = [_Worker(self.context, self.function, self.max_memory)
                            for _ in range(min(self.size, len(pending)))]
            busy: dict[int, _Worker] = {}
            while pending or busy:
                for worker in list(self.workers):
                    if worker.ticket is not None or not pending:
                        continue
                    if not worker.process.is_alive():  # died idle (killed from outside)
                        worker = self._replace(worker)
                    ticket, job = pending.popleft()
                    try:
                        worker.give(ticket, job)
                    except OSError:  # died just now: the job waits for the replacement
                        pending.appendleft((ticket, job))
                        worker.ticket = None
                        self._replace(worker)
                        continue
                    busy[ticket] = worker
                ready = wait([w.conn for w in busy.values()] + [w.process.sentinel for w in busy.values()],
                             timeout=self._next_deadline(busy.values()))
                for worker in list(busy.values()):
                    ticket = worker.ticket
                    if worker.conn in ready or worker.conn.poll():
                        try:
                            done, result = worker.conn.recv()
                        except (EOFError, OSError):
                            done = None
                        if done == ticket:
                            worker.ticket = None
                            del busy[ticket]
                            yield jobs_by_ticket.pop(ticket), result
                            continue
                    if not worker.process.is_alive():
                        del busy[ticket]
                        self._replace(worker)
                        deaths[ticket] = deaths.get(ticket, 0) + 1
                        if deaths[ticket] >= 2:
                            yield jobs_by_ticket.pop(ticket), Failure(
                                f"the worker process died while analyzing this dump "
                                f"({_exit_text(worker.process.exitcode)})")
                        else:
                            pending.appendleft((ticket, jobs_by_ticket[ticket]))
                    elif self.timeout and time.monotonic() - worker.started > self.timeout:
                        del busy[ticket]
                        self._replace(worker)
                        yield jobs_by_ticket.pop(ticket), Failure(
                            f"analysis exceeded --timeout {self.timeout:g} s; stopped")
        finally:
            self.close()

    def _next_deadline(self, busy: Iterable[_Worker]) -> float | None:
        if not self.timeout:
            return None
        now = time.monotonic()
        left = [self.timeout - (now - w.started) for w in busy]
        return max(0.05, min(left)) if left else None

    def _replace(self, worker: _Worker) -> _Worker:
        worker.kill()
        fresh = _Worker(self.context, self.function, self.max_memory)
        self.workers[self.workers.index(worker)] = fresh
        return fresh

    def close(self) -> None:
        for worker in self.workers:
            worker.kill()
        self.workers = []


def _exit_text(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


__all__ = ["LocalPool", "Failure"]
