"""One input of a scan, analyzed into index rows: the function the local pool and the
Dask workers run (:func:`run`; picklable arguments, a plain-dict result, never raises).

Outcomes, as ``dumps.status``:

* ``ok``: the engine's report, with ``leaks`` as ``analyze --format json`` adds it;
* ``no-pool-data``: a dump whose DumpType holds no pool tables (triage, header-only),
  recognized from its header before the engine is asked; ``note`` says what it is;
* ``needs-symbols``: the kernel's symbol table is missing; the PDB name, GUID and age
  are kept so that a later scan retries exactly these dumps once the table is there;
* ``error``: anything else, as one line.

A container member that is not a dump (and not named like one) gives a ``skipped``
outcome instead, so that it is not opened again.
"""
from __future__ import annotations

import atexit
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.batch import one_line_error
from . import rows as R
from .containers import member_blocks, private_folder, read_head, stream_to_file
from .limits import Limits
from .discover import HEADER_BYTES, header_facts, named_like_a_dump, not_a_dump_message, sniff
from .fingerprint import HeadHasher, file_fingerprint
from .index import dump_id

WORKER_DIED = "the worker process died while analyzing this dump"


@dataclass(frozen=True)
class Job:
    """One input: a file, or a member of a container (``member`` not None)."""

    path: str
    member: str | None
    kind: str | None          # container kind for a member; 'dump' or None for a file
    size: int | None          # of the file, or the member's declared size
    mtime_ns: int | None
    machine: str | None
    container_size: int = 0   # the container's file size (bomb ratio)

    @property
    def label(self) -> str:
        """How the dump is named in reports and messages: PATH or PATH!MEMBER."""
        return self.path if self.member is None else f"{self.path}!{self.member}"


@dataclass(frozen=True)
class Settings:
    symbol_dirs: tuple[str, ...]
    pooltag: str | None = None
    thresholds: dict = field(default_factory=dict)
    tmp_dir: str | None = None
    limits: Limits = Limits()


def base_row(job: Job) -> dict:
    return {"id": dump_id(job.path, job.member), "path": job.path, "member": job.member,
            "machine": job.machine, "size": job.size, "mtime_ns": job.mtime_ns}


def error_outcome(job: Job, message: str, seconds: float | None = None, **extra) -> dict:
    return {"dump": {**base_row(job), "status": "error", "error": message, "seconds": seconds, **extra}}


def run(job: Job, settings: Settings) -> dict:
    """The outcome of one input (``index.store`` writes it)."""
    start = time.monotonic()
    try:
        if job.member is None:
            outcome = _run_file(job, settings)
        else:
            outcome = _run_member(job, settings)
    except MemoryError:
        outcome = error_outcome(job, "out of memory: the analysis needs more than --max-memory")
    except Exception as exc:  # one bad input never stops the scan
        outcome = error_outcome(job, one_line_error(exc))
    if "dump" in outcome:
        outcome["dump"]["seconds"] = round(time.monotonic() - start, 3)
    return outcome


def _out_of_memory(exc: BaseException | None) -> bool:
    """A MemoryError, also one wrapped by the engine (``DumpOpenError`` from a MemoryError)."""
    seen = 0
    while exc is not None and seen < 16:
        if isinstance(exc, MemoryError):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _run_file(job: Job, settings: Settings) -> dict:
    path = Path(job.path)
    with open(path, "rb") as handle:
        head = handle.read(HEADER_BYTES)
    if sniff(head) != "dump":
        return error_outcome(job, not_a_dump_message(head))
    return _analyze(path, head, file_fingerprint(path), job, settings)


_FOLDER: Path | None = None


def _folder(settings: Settings) -> Path:
    """This process's private folder for extracted members (removed at exit)."""
    global _FOLDER
    if _FOLDER is None or not _FOLDER.is_dir():
        _FOLDER = private_folder(Path(settings.tmp_dir) if settings.tmp_dir else None)
        atexit.register(shutil.rmtree, _FOLDER, True)
    return _FOLDER


def _run_member(job: Job, settings: Settings) -> dict:
    target = _folder(settings) / f"{dump_id(job.path, job.member)}.dmp"  # one per input: Dask threads
    target.unlink(missing_ok=True)
    hasher = HeadHasher()
    try:
        with member_blocks(Path(job.path), job.kind or "", job.member) as (declared, blocks):
            head = read_head(blocks, 8)
            if sniff(head) != "dump":
                if named_like_a_dump(job.member):
                    return error_outcome(job, not_a_dump_message(head))
                return {"skipped": {"path": job.path, "member": job.member, "size": job.size,
                                    "mtime_ns": job.mtime_ns, "reason": "not a crash dump"}}
            hasher.update(head)
            stream_to_file(_hashing(blocks, hasher), head, declared, target, job.container_size, settings.limits)
        with open(target, "rb") as handle:
            header = handle.read(HEADER_BYTES)
        return _analyze(target, header, hasher.hexdigest(), job, settings)
    finally:
        target.unlink(missing_ok=True)


def _hashing(blocks, hasher: HeadHasher):
    for block in blocks:
        hasher.update(block)
        yield block


def _analyze(path: Path, head: bytes, fingerprint: str, job: Job, settings: Settings) -> dict:
    from ..analysis.engine import analyze_path, filetime_text
    from ..analysis.leaks import Thresholds, analyze as analyze_leaks
    from ..vol.errors import SymbolsMissing

    row = {**base_row(job), "fingerprint": fingerprint}
    facts = header_facts(head)
    if facts is not None and facts.no_pool_data:
        return {"dump": {**row, "status": "no-pool-data", "note": facts.no_pool_data, "arch": facts.arch,
                         "dump_type": facts.dump_type, "bugcheck_code": facts.bugcheck_code,
                         "crash_time": filetime_text(facts.system_time) if facts.system_time else None,
                         "uptime_seconds": facts.uptime_seconds}}
    try:
        report = analyze_path(path, [Path(d) for d in settings.symbol_dirs],
                              Path(settings.pooltag) if settings.pooltag else None)
    except SymbolsMissing as exc:
        return {"dump": {**row, "status": "needs-symbols", "error": exc.message,
                         "arch": facts.arch if facts else None,
                         "dump_type": facts.dump_type if facts else None,
                         "bugcheck_code": facts.bugcheck_code if facts else None,
                         "pdb_name": exc.pdb.name, "pdb_guid": exc.pdb.guid, "pdb_age": exc.pdb.age}}
    except Exception as exc:
        if _out_of_memory(exc):
            raise MemoryError from exc
        return {"dump": {**row, "status": "error", "error": one_line_error(exc)}}
    report["header"]["dump"] = job.label
    report["leaks"] = analyze_leaks(report, Thresholds.from_mapping(settings.thresholds))
    starved = [w for w in report.get("warnings") or [] if "MemoryError" in str(w)]
    if starved:  # a section ran out of memory: the report is not whole
        return {"dump": {**row, "status": "error",
                         "error": f"out of memory: the analysis needs more than --max-memory "
                                  f"({' '.join(str(starved[0]).split())})"}}
    ident = row["id"]
    return {"dump": {**row, "status": "ok", **R.report_fields(report)},
            "tags": R.tag_rows(ident, report), "drivers": R.driver_rows(ident, report),
            "callsites": R.callsite_rows(ident, report), "suspects": R.suspect_rows(ident, report),
            "reports": [{"dump_id": ident, "encoding": R.REPORT_ENCODING,
                         "report": R.encode_report(report)}]}
