"""Archive scanning through the ``dumpscan`` command: scan, query, export.

The test archive is made at test time from the bundled dumps: plain dumps under odd names,
the same dumps zipped, 7z'd and gzipped, a triage (DumpType 4) dump, truncated and
corrupt files, a zip-slip archive and a decompression bomb. Interrupted scans (SIGINT,
kill -9 of the coordinator or of a worker) and a Dask LocalCluster run must leave an
index identical to one uninterrupted local run.
"""
from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
import zlib
from pathlib import Path

import pytest
from click.testing import CliRunner

from dumpscan.commands import main
from dumpscan.dumpfile import headers as H

from conftest import DUMPS, SYMBOLS

DUMPSCAN = [sys.executable, "-m", "dumpscan"]
GUARD = 120  # seconds: a hang guard, not a speed target


def make_triage_dump(path: Path) -> None:
    """A minimal 64-bit DumpType 4 (triage / small memory) header [S7, S9; docs/dump-format.md]."""
    header = bytearray(H.PAGE_FILL * (H.HEADER_SIZE64 // 4))
    con = H.DUMP_HEADER64
    H.put(header, 0, con, "Signature", H.SIGNATURE)
    H.put(header, 0, con, "ValidDump", H.VALID_DUMP64)
    H.put(header, 0, con, "DumpType", 4)
    H.put(header, 0, con, "BugCheckCode", 0xC4)
    H.put(header, 0, con, "SystemTime", H.FILETIME_UNIX_EPOCH + 1_700_000_000 * 10_000_000)
    H.put(header, 0, con, "SystemUpTime", 3600 * 10_000_000)
    path.write_bytes(bytes(header) + b"\0" * 0x3000)


def make_7z(target: Path, members: dict[str, Path]) -> None:
    import libarchive

    with libarchive.file_writer(str(target), "7zip") as archive:
        for name, source in members.items():
            data = source.read_bytes()
            archive.add_file_from_memory(name, len(data), data)


def build_archive(root: Path) -> Path:
    archive = root / "ARCHIVE"
    m1, m2, m3 = archive / "m1", archive / "m2", archive / "m3"
    for folder in (m1, m2, m3):
        folder.mkdir(parents=True)
    shutil.copy(DUMPS / "win10-x64-series-t0.dmp", m1 / "MEMORY.DMP")
    shutil.copy(DUMPS / "win10-x64-series-t1.dmp", m1 / "120123-1234-01.dmp")
    shutil.copy(DUMPS / "win10-x64-series-t2.dmp", m1 / "no-extension")
    with zipfile.ZipFile(m2 / "customer.zip", "w", zipfile.ZIP_DEFLATED) as z:
        z.write(DUMPS / "win10-x64-verifier-full.dmp", "case-1/MEMORY.DMP")
        z.write(DUMPS / "win7-x64-poolhittag.dmp", "case-2/poolhittag.dmp")
        z.writestr("case-1/notes.txt", "customer notes, not a dump")
    make_7z(m2 / "kernel.7z", {"kernel.dmp": DUMPS / "win10-x64-kernel-sdmp.dmp"})
    (m2 / "x86.dmp.gz").write_bytes(gzip.compress((DUMPS / "win81-x86-verifier.dmp").read_bytes(), 1))
    make_triage_dump(m3 / "Mini120123-01.dmp")
    (m3 / "truncated.dmp").write_bytes((DUMPS / "win10-x64-live-kernel.dmp").read_bytes()[:0x3000])
    (m3 / "corrupt.dmp").write_bytes(os.urandom(4096))
    (m3 / "readme.txt").write_text("not an input")
    with zipfile.ZipFile(m3 / "slip.zip", "w") as z:
        z.writestr("../../evil.dmp", b"PAGEDU64")
    # a bomb: 80 MiB of zeros behind a dump signature, gzip'ed to ~80 KB (over the test quota)
    (m3 / "bomb.dmp.gz").write_bytes(gzip.compress(b"PAGEDU64" + bytes(80 << 20), 6))
    return archive


EXPECTED_STATUS = {  # (relative path, member) -> status
    ("m1/MEMORY.DMP", None): "ok", ("m1/120123-1234-01.dmp", None): "ok", ("m1/no-extension", None): "ok",
    ("m2/customer.zip", "case-1/MEMORY.DMP"): "ok", ("m2/customer.zip", "case-2/poolhittag.dmp"): "ok",
    ("m2/kernel.7z", "kernel.dmp"): "ok", ("m2/x86.dmp.gz", "x86.dmp"): "ok",
    ("m3/Mini120123-01.dmp", None): "no-pool-data", ("m3/truncated.dmp", None): "error",
    ("m3/corrupt.dmp", None): "error", ("m3/slip.zip", "../../evil.dmp"): "error",
    ("m3/bomb.dmp.gz", "bomb.dmp"): "error",
}
SCAN_OPTIONS = ["-s", str(SYMBOLS), "--tmp-quota", "48M"]


def scan_command(archive: Path, db: Path, *extra: str) -> list[str]:
    return DUMPSCAN + ["scan", str(archive), "--db", str(db), *SCAN_OPTIONS, *extra]


def run_scan(archive: Path, db: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(scan_command(archive, db, *extra), capture_output=True, text=True, timeout=GUARD)


def contents(db: Path) -> dict[str, list]:
    """Every table's rows, sorted, without the timing column ``dumps.seconds``; reports as
    their documents."""
    conn = sqlite3.connect(db)
    out = {}
    for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"):
        names = [r[1] for r in conn.execute(f"PRAGMA table_info({table})") if r[1] != "seconds"]
        rows = conn.execute(f"SELECT {', '.join(names)} FROM {table}").fetchall()
        if table == "reports":
            rows = [(ident, encoding, json.loads(zlib.decompress(blob))) for ident, encoding, blob in rows]
        out[table] = sorted(rows, key=repr)
    conn.close()
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> Path:
    return build_archive(tmp_path_factory.mktemp("archive"))


@pytest.fixture(scope="module")
def reference(archive, tmp_path_factory) -> Path:
    """One uninterrupted local scan with two workers."""
    db = tmp_path_factory.mktemp("reference") / "index.sqlite"
    result = run_scan(archive, db, "--workers", "2")
    assert result.returncode == 0, result.stderr
    return db


def assert_tag_totals_consistent(db: Path) -> None:
    """``tag_totals`` (kept up to date by every write) equals the sums over ``tags``."""
    conn = sqlite3.connect(db)
    kept = sorted(conn.execute("SELECT key, tag, dumps, bytes, paged_bytes, nonpaged_bytes, outstanding "
                               "FROM tag_totals"))
    summed = sorted(conn.execute(
        "SELECT key, tag, count(*), sum(paged_bytes + nonpaged_bytes), sum(paged_bytes), sum(nonpaged_bytes), "
        "sum(paged_outstanding + nonpaged_outstanding) FROM tags "
        "WHERE partial = 0 AND paged_bytes + nonpaged_bytes > 0 GROUP BY key"))
    conn.close()
    assert kept == summed and kept


def statuses(db: Path, archive: Path) -> dict:
    conn = sqlite3.connect(db)
    rows = conn.execute("SELECT path, member, status FROM dumps").fetchall()
    conn.close()
    return {(os.path.relpath(p, archive), m): s for p, m, s in rows}


def query(db: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["query", "--db", str(db), *args])
    assert result.exit_code == 0, result.output
    return result.output


# --------------------------------------------------------------------------------------
# what the scan records


def test_scan_finds_dumps_by_content_and_records_every_input(reference, archive):
    assert statuses(reference, archive) == EXPECTED_STATUS
    assert_tag_totals_consistent(reference)
    conn = sqlite3.connect(reference)
    errors = dict(((os.path.relpath(p, archive), m), e) for p, m, e in
                  conn.execute("SELECT path, member, coalesce(error, note) FROM dumps WHERE status != 'ok'"))
    assert "path traversal" in errors[("m3/slip.zip", "../../evil.dmp")]
    assert "decompression bomb" in errors[("m3/bomb.dmp.gz", "bomb.dmp")]
    assert "not a Windows kernel crash dump" in errors[("m3/corrupt.dmp", None)]
    assert "triage (small memory) dump" in errors[("m3/Mini120123-01.dmp", None)]
    triage = conn.execute("SELECT dump_type, bugcheck_code, arch, uptime_seconds, crash_time FROM dumps "
                          "WHERE status = 'no-pool-data'").fetchone()
    assert triage == (4, 0xC4, "x64", 3600, "2023-11-14T22:13:20Z")
    # the notes.txt member is no input, and is remembered as such
    assert conn.execute("SELECT member, reason FROM skipped").fetchall() == [("case-1/notes.txt", "not a crash dump")]
    machines = dict(conn.execute("SELECT machine, count(*) FROM dumps GROUP BY machine"))
    assert machines == {"m1": 3, "m2": 4, "m3": 5}
    conn.close()
    # nothing was extracted next to the archive
    assert sorted(p.name for p in (archive / "m2").iterdir()) == ["customer.zip", "kernel.7z", "x86.dmp.gz"]


def test_index_values_equal_analyze_json(reference, archive):
    """The stored report, and the rows of every table, are what `analyze --format json` gives."""
    conn = sqlite3.connect(reference)
    cases = [(archive / "m1" / "120123-1234-01.dmp", None, archive / "m1" / "120123-1234-01.dmp"),
             (archive / "m2" / "customer.zip", "case-1/MEMORY.DMP", DUMPS / "win10-x64-verifier-full.dmp")]
    for path, member, original in cases:
        result = CliRunner().invoke(main, ["analyze", "--format", "json", "-s", str(SYMBOLS), str(original)])
        assert result.exit_code == 0, result.output
        expected = json.loads(result.stdout)  # stdout only: analyze notes missing driver tables on stderr
        ident, blob = conn.execute("SELECT dumps.id, reports.report FROM dumps JOIN reports ON "
                                   "reports.dump_id = dumps.id WHERE path = ? AND member IS ?",
                                   (str(path), member)).fetchone()
        stored = json.loads(zlib.decompress(blob))
        assert stored["header"].pop("dump") == (str(path) if member is None else f"{path}!{member}")
        expected["header"].pop("dump")
        assert stored == expected
        tags = conn.execute("SELECT tag, key, paged_allocs, paged_frees, paged_bytes, nonpaged_allocs, "
                            "nonpaged_frees, nonpaged_bytes FROM tags WHERE dump_id = ? AND partial = 0",
                            (ident,)).fetchall()
        assert sorted(tags) == sorted((t["tag"], t["key"], t["paged_allocs"], t["paged_frees"], t["paged_bytes"],
                                       t["nonpaged_allocs"], t["nonpaged_frees"], t["nonpaged_bytes"])
                                      for t in expected["tags"])
        suspects = conn.execute("SELECT kind, name, severity, bytes, count, evidence FROM suspects "
                                "WHERE dump_id = ? ORDER BY rank", (ident,)).fetchall()
        assert suspects == [(s["kind"], s["name"], s["severity"], s["bytes"], s["count"],
                             json.dumps(s["evidence"])) for s in expected["leaks"]["suspects"]]
        sites = conn.execute("SELECT caller, bytes, count FROM callsites WHERE dump_id = ? ORDER BY rank",
                             (ident,)).fetchall()
        assert sites == [
            (f"{s['caller']:#x}", s["bytes"], s["count"]) for s in expected["leaks"]["call_sites"]]
        drivers = conn.execute("SELECT name, outstanding, outstanding_bytes, counters FROM drivers "
                               "WHERE dump_id = ? ORDER BY name", (ident,)).fetchall()
        assert drivers == [(d["name"], d.get("outstanding"), d.get("outstanding_bytes"),
                            json.dumps(d["counters"], sort_keys=True) if d.get("counters") is not None else None)
                           for d in (expected.get("verifier") or {}).get("drivers", [])]
        row = conn.execute("SELECT kernel_build, dump_type, bugcheck_code, crash_time, uptime_seconds, "
                           "pdb_guid FROM dumps WHERE id = ?", (ident,)).fetchone()
        assert row == (expected["header"]["kernel_build"], expected["dump"]["dump_type"],
                       expected["dump"]["bugcheck"]["code"], expected["header"]["system_time"],
                       expected["header"]["uptime_seconds"], expected["kernel"]["guid"])
    conn.close()


def test_rescan_of_unchanged_archive_analyzes_nothing(reference, archive, tmp_path):
    db = tmp_path / "index.sqlite"
    shutil.copy(reference, db)
    before = contents(db)
    result = run_scan(archive, db, "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "0 inputs analyzed (nothing new)" in result.stderr
    assert contents(db) == before


def test_incremental_scan_redoes_only_new_and_changed_dumps(archive, tmp_path):
    work = tmp_path / "A"
    (work / "m1").mkdir(parents=True)
    for name in ("win10-x64-series-t0.dmp", "win10-x64-series-t1.dmp"):
        shutil.copy(DUMPS / name, work / "m1" / name)
    db = tmp_path / "index.sqlite"
    assert run_scan(work, db, "--workers", "0").returncode == 0
    t0 = work / "m1" / "win10-x64-series-t0.dmp"
    os.utime(t0, ns=(1, 1))  # touched only: same content, no analysis
    shutil.copy(DUMPS / "win10-x64-series-t2.dmp", work / "m1" / "new.dmp")
    result = run_scan(work, db, "--workers", "0")
    assert "1 inputs analyzed (1 ok), 2 unchanged" in result.stderr, result.stderr
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT mtime_ns FROM dumps WHERE path = ?", (str(t0),)).fetchone() == (1,)
    # a changed dump is analyzed again
    (work / "m1" / "win10-x64-series-t1.dmp").write_bytes((DUMPS / "win10-x64-series-t2.dmp").read_bytes())
    result = run_scan(work, db, "--workers", "0")
    assert "1 inputs analyzed (1 ok), 2 unchanged" in result.stderr, result.stderr
    assert conn.execute("SELECT count(*) FROM dumps").fetchone() == (3,)
    assert_tag_totals_consistent(db)
    result = run_scan(work, db, "--workers", "0", "--rescan")
    assert "3 inputs analyzed (3 ok), 0 unchanged" in result.stderr, result.stderr
    assert_tag_totals_consistent(db)
    conn.close()


def test_needs_symbols_then_retried_exactly_when_the_table_appears(tmp_path):
    work = tmp_path / "A" / "host"
    work.mkdir(parents=True)
    shutil.copy(DUMPS / "win10-x64-series-t0.dmp", work / "a.dmp")
    shutil.copy(DUMPS / "win10-x64-series-t1.dmp", work / "b.dmp")
    shutil.copy(DUMPS / "win7-x64-poolhittag.dmp", work / "c.dmp")
    symbols = tmp_path / "symbols"
    (symbols / "windows").mkdir(parents=True)
    shutil.copytree(SYMBOLS / "windows" / "myfault.pdb", symbols / "windows" / "myfault.pdb")
    db = tmp_path / "index.sqlite"
    command = DUMPSCAN + ["scan", str(tmp_path / "A"), "--db", str(db), "-s", str(symbols), "--workers", "0"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=GUARD)
    assert "3 needs-symbols" in result.stderr
    out = query(db, "missing-symbols", "--format", "json")
    waiting = {(r["pdb"], r["guid"], r["age"]): r["dumps"] for r in json.loads(out)}
    conn = sqlite3.connect(db)
    guid_t0 = conn.execute("SELECT pdb_guid FROM dumps WHERE path LIKE '%a.dmp'").fetchone()[0]
    assert waiting[("ntkrnlmp.pdb", guid_t0, 1)] == 2 and sum(waiting.values()) == 3
    # the table of the two series dumps appears: those two are retried, nothing else
    table = next((SYMBOLS / "windows" / "ntkrnlmp.pdb").glob(f"{guid_t0}-1.json*"))
    (symbols / "windows" / "ntkrnlmp.pdb").mkdir()
    shutil.copy(table, symbols / "windows" / "ntkrnlmp.pdb" / table.name)
    result = subprocess.run(command, capture_output=True, text=True, timeout=GUARD)
    assert "2 inputs analyzed (2 ok), 1 unchanged, 2 retried" in result.stderr, result.stderr
    result = subprocess.run(command, capture_output=True, text=True, timeout=GUARD)
    assert "0 inputs analyzed" in result.stderr
    conn.close()


# --------------------------------------------------------------------------------------
# isolation: limits, kills, interrupts


def test_timeout_and_memory_limit_give_error_rows(tmp_path):
    work = tmp_path / "A"
    work.mkdir()
    shutil.copy(DUMPS / "win81-x86-verifier.dmp", work / "slow.dmp")
    db = tmp_path / "t.sqlite"
    result = run_scan(work, db, "--workers", "1", "--timeout", "0.01")
    assert result.returncode == 0, result.stderr
    assert "exceeded --timeout" in sqlite3.connect(db).execute("SELECT error FROM dumps").fetchone()[0]
    db = tmp_path / "m.sqlite"
    result = run_scan(work, db, "--workers", "1", "--max-memory", "64M")
    assert result.returncode == 0, result.stderr
    status, message = sqlite3.connect(db).execute("SELECT status, error FROM dumps").fetchone()
    assert status == "error" and ("memory" in message or "died" in message), message


def test_decompression_ratio_limit(tmp_path):
    work = tmp_path / "A"
    work.mkdir()
    (work / "bomb.gz").write_bytes(gzip.compress(b"PAGEDU64" + bytes(70 << 20), 6))
    db = tmp_path / "index.sqlite"
    result = run_scan(work, db, "--workers", "0", "--tmp-quota", "1G", "--max-ratio", "100")
    assert result.returncode == 0, result.stderr
    message = sqlite3.connect(db).execute("SELECT error FROM dumps").fetchone()[0]
    assert "more than 100 times the container's" in message and "decompression bomb" in message


def _descendants(pid: int) -> dict[int, int]:
    """pid -> depth of every descendant process of ``pid`` (from /proc)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    depth = {pid: 0}
    changed = True
    while changed:
        changed = False
        for child, parent in parents.items():
            if parent in depth and child not in depth:
                depth[child] = depth[parent] + 1
                changed = True
    del depth[pid]
    return depth


def _wait_for_rows(process: subprocess.Popen, db: Path, rows: int) -> None:
    deadline = time.monotonic() + GUARD
    while time.monotonic() < deadline and process.poll() is None:
        try:
            conn = sqlite3.connect(db)
            count = conn.execute("SELECT count(*) FROM dumps").fetchone()[0]
            conn.close()
            if count >= rows:
                return
        except sqlite3.Error:
            pass
        time.sleep(0.02)


@pytest.mark.parametrize("how", ["sigint", "kill-main"])
def test_interrupted_scan_resumes_to_the_same_index(how, archive, reference, tmp_path):
    db = tmp_path / "index.sqlite"
    process = subprocess.Popen(scan_command(archive, db, "--workers", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _wait_for_rows(process, db, 3)
    assert process.poll() is None, "the scan ended before it could be interrupted"
    os.kill(process.pid, signal.SIGINT if how == "sigint" else signal.SIGKILL)
    _, err = process.communicate(timeout=GUARD)
    conn = sqlite3.connect(db)
    done = conn.execute("SELECT (SELECT count(*) FROM dumps) + (SELECT count(*) FROM skipped)").fetchone()[0]
    conn.close()
    inputs = len(EXPECTED_STATUS) + 1  # and the zip's notes.txt, remembered as no dump
    assert done < inputs
    if how == "sigint":
        assert process.returncode == 130 and "interrupted:" in err, err
    else:
        assert process.returncode == -signal.SIGKILL
        time.sleep(0.5)  # the workers die with their fork server
        assert not [p for p in _descendants(process.pid)]
    result = run_scan(archive, db, "--workers", "2")
    assert result.returncode == 0, result.stderr
    # only what was not finished is done again (no more than the dumps in flight were lost)
    assert re.search(rf"scan: {inputs - done} inputs analyzed .*, {done} unchanged", result.stderr), result.stderr
    assert contents(db) == contents(reference)


def test_killed_worker_does_not_lose_its_dump(archive, reference, tmp_path):
    db = tmp_path / "index.sqlite"
    process = subprocess.Popen(scan_command(archive, db, "--workers", "2"), stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    _wait_for_rows(process, db, 2)
    workers = [pid for pid, depth in _descendants(process.pid).items() if depth == 2]
    assert workers and process.poll() is None
    os.kill(workers[0], signal.SIGKILL)
    _, err = process.communicate(timeout=GUARD)
    assert process.returncode == 0, err
    assert contents(db) == contents(reference)


def test_dask_cluster_gives_the_same_index(archive, reference, tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                                  dashboard_address=None, worker_dashboard_address=None) as cluster:
        db = tmp_path / "index.sqlite"
        result = run_scan(archive, db, "--scheduler", cluster.scheduler_address)
    assert result.returncode == 0, result.stderr
    assert contents(db) == contents(reference)


# --------------------------------------------------------------------------------------
# queries and export


def test_queries(reference, archive):
    rows = json.loads(query(reference, "top-tags", "--top", "3", "--format", "json"))
    assert rows[0]["tag"] == "Leak" and rows[0]["drivers"] == ["myfault.sys"]
    conn = sqlite3.connect(reference)
    expected_leak = conn.execute("SELECT sum(paged_bytes + nonpaged_bytes), count(*) FROM tags "
                                 "WHERE tag = 'Leak' AND partial = 0").fetchone()
    assert (rows[0]["bytes"], rows[0]["dumps"]) == expected_leak
    over = json.loads(query(reference, "tag-over", "--tag", "Lea?", "--min-bytes", "12000000", "--format", "json"))
    assert sorted((os.path.relpath(r["path"], archive), r["member"], r["tag"]) for r in over) == [
        ("m1/120123-1234-01.dmp", None, "Leak"), ("m1/no-extension", None, "Leak"),
        ("m2/customer.zip", "case-2/poolhittag.dmp", "Lea2")]
    drivers = json.loads(query(reference, "top-suspect-drivers", "--format", "json"))
    assert drivers[0]["driver"] == "myfault.sys" and drivers[0]["dumps"] == 7
    errors = query(reference, "errors", "--format", "csv")
    assert errors.count("\n") == 1 + 5 and "no-pool-data" in errors
    growth = json.loads(query(reference, "growth", "--machine", "m1", "--format", "json"))
    assert growth[0]["tag"] == "Leak" and growth[0]["dumps"] == 3 and growth[0]["strict"] is True
    # the same series as `dumpscan series` over the three dumps, without reopening them
    series = CliRunner().invoke(main, ["series", "--format", "json", "-s", str(SYMBOLS),
                                       *(str(archive / "m1" / n) for n in ("MEMORY.DMP", "120123-1234-01.dmp",
                                                                         "no-extension"))])
    leak = next(t for t in json.loads(series.output)["tags"] if t["tag"] == "Leak")
    assert (growth[0]["growth_bytes"], growth[0]["growth_count"]) == (leak["growth_bytes"], leak["growth_count"])
    text = query(reference, "top-tags", "--top", "2")
    assert text.splitlines()[0].split() == ["Tag", "Key", "Dumps", "Bytes", "PagedBytes", "NonPagedBytes",
                                            "Outstanding", "Largest", "Drivers"]
    assert text.splitlines()[2].split()[0] == "Leak" and len(text.splitlines()) == 4


def test_sql_is_read_only(reference):
    before = contents(reference)
    out = query(reference, "--sql", "SELECT status, count(*) AS n FROM dumps GROUP BY status ORDER BY status",
                "--format", "csv")
    assert out.splitlines() == ["status,n", "error,4", "no-pool-data,1", "ok,7"]
    for statement in ("DELETE FROM dumps", "DROP TABLE tags", "PRAGMA user_version = 7"):
        result = CliRunner().invoke(main, ["query", "--db", str(reference), "--sql", statement])
        assert result.exit_code == 2 and "readonly" in result.output, result.output
    assert contents(reference) == before


def test_export_parquet_and_csv(reference, tmp_path):
    import pyarrow.parquet as pq

    result = CliRunner().invoke(main, ["export", "--db", str(reference), "--format", "parquet",
                                       "--out", str(tmp_path / "pq")])
    assert result.exit_code == 0, result.output
    conn = sqlite3.connect(reference)
    for table in ("dumps", "tags", "drivers", "callsites", "suspects", "reports"):
        exported = pq.read_table(tmp_path / "pq" / f"{table}.parquet")
        assert exported.num_rows == conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    tags = pq.read_table(tmp_path / "pq" / "tags.parquet").to_pylist()
    assert sum(t["paged_bytes"] for t in tags) == conn.execute("SELECT sum(paged_bytes) FROM tags").fetchone()[0]
    report = json.loads(pq.read_table(tmp_path / "pq" / "reports.parquet").to_pylist()[0]["report"])
    assert report["schema"] == "dumpscan.report/1"
    result = CliRunner().invoke(main, ["export", "--db", str(reference), "--format", "csv",
                                       "--out", str(tmp_path / "csv")])
    assert result.exit_code == 0
    lines = (tmp_path / "csv" / "dumps.csv").read_text().splitlines()
    assert lines[0].startswith("id,path,member,machine,fingerprint") and len(lines) == 1 + len(EXPECTED_STATUS)


# --------------------------------------------------------------------------------------
# the index file


def test_index_schema_version_checked(tmp_path):
    db = tmp_path / "future.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    result = CliRunner().invoke(main, ["query", "--db", str(db), "errors"])
    assert result.exit_code == 2 and "newer than this dumpscan" in result.output
    (tmp_path / "junk.sqlite").write_bytes(b"not a database" * 100)
    result = CliRunner().invoke(main, ["scan", str(tmp_path), "--db", str(tmp_path / "junk.sqlite")])
    assert result.exit_code == 2 and "not a dumpscan index" in result.output
    old = tmp_path / "old.sqlite"
    sqlite3.connect(old).close()  # an empty file: version 0, migrated on open by scan
    result = CliRunner().invoke(main, ["query", "--db", str(old), "errors"])
    assert result.exit_code == 2 and "to migrate it" in result.output
    from dumpscan.archive.index import SCHEMA_VERSION, open_index

    conn = open_index(old)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")} >= {
        "dumps", "tags", "drivers", "callsites", "suspects", "reports"}


def test_symbol_table_loaded_once_per_kernel_build_per_worker(monkeypatch, tmp_path):
    from dumpscan.archive.worker import Job, Settings, run
    from dumpscan.symbols import isf

    loads = []
    original = isf.SymbolTable.load.__func__
    monkeypatch.setattr(isf.SymbolTable, "load", classmethod(lambda cls, p: loads.append(str(p)) or original(cls, p)))
    isf._cached_table.cache_clear()
    settings = Settings(symbol_dirs=(str(SYMBOLS),))
    for name in ("win10-x64-series-t0.dmp", "win10-x64-series-t1.dmp", "win10-x64-series-t2.dmp"):
        path = DUMPS / name
        outcome = run(Job(str(path), None, "dump", path.stat().st_size, 0, None), settings)
        assert outcome["dump"]["status"] == "ok"
    kernel_loads = [p for p in loads if "ntkrnlmp" in p]
    assert len(kernel_loads) == 1, loads
    isf._cached_table.cache_clear()


def test_stored_report_is_exactly_the_compact_json():
    """The pipelined encoder gives zlib of exactly json.dumps(report, separators=(',', ':'))."""
    from dumpscan.archive.rows import JSON_BATCH, decode_report, encode_report

    report = {"schema": "dumpscan.report/1", "coverage": {1: "int key"}, "bigpool": [{"va": 2**64 - 1}] * (2 * JSON_BATCH + 3),
              "verifier": {"drivers": [{"name": "é\u2028", "allocations": list(range(JSON_BATCH + 1))}], "empty": {}},
              "warnings": [], "pool_hit_tag": None}
    assert zlib.decompress(encode_report(report)) == json.dumps(report, separators=(",", ":")).encode()
    assert decode_report(encode_report(report))["bigpool"][-1] == {"va": 2**64 - 1}


def test_progress_lines_when_not_a_terminal():
    import io

    from dumpscan.archive.progress import Progress

    stream = io.StringIO()
    progress = Progress(3, stream=stream, every=0)
    for status in ("ok", "error", "ok"):
        progress.advance(status)
    progress.close()
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("dumpscan: scan: 1/3 done, 0 errors") and "ETA" in lines[0]
    assert lines[-1].startswith("dumpscan: scan: 3/3 done, 1 errors")


def test_progress_bar_on_a_terminal():
    """On a terminal: a rich bar with the errors so far and an ETA, kept after the scan."""
    import io

    from dumpscan.archive.progress import Progress

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    progress = Progress(3, stream=stream, every=0)
    for status in ("ok", "error", "ok"):
        progress.advance(status)
    progress.close()
    drawn = stream.getvalue()
    assert "3/3" in drawn and "1 errors" in drawn and "ETA" in drawn
    assert "dumpscan: scan:" not in drawn  # no plain lines on a terminal


def test_cab_archive(tmp_path):
    """A .cab (what Windows' own tools send) read through libarchive; written with gcab."""
    if shutil.which("gcab") is None:
        pytest.skip("gcab (Debian package gcab, installed by .ci/run) writes the test cabinet")
    work = tmp_path / "A" / "host"
    work.mkdir(parents=True)
    shutil.copy(DUMPS / "win10-x64-kernel-sdmp.dmp", tmp_path / "MEMORY.DMP")
    subprocess.run(["gcab", "-c", "-z", str(work / "dumps.cab"), "MEMORY.DMP"], cwd=tmp_path, check=True)
    db = tmp_path / "index.sqlite"
    assert run_scan(tmp_path / "A", db, "--workers", "0").returncode == 0
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT member, status, machine FROM dumps").fetchall() == [("MEMORY.DMP", "ok", "host")]
    assert conn.execute("SELECT kind FROM containers").fetchall() == [("cab",)]


def _crash_or_sleep(job: int) -> int:
    """A pool job: 2 kills its worker, 4 outlives the timeout, the others return job * 10."""
    if job == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    if job == 4:
        time.sleep(60)
    return job * 10


def test_local_pool_isolates_crashes_and_timeouts():
    from dumpscan.archive.pool import Failure, LocalPool

    results = dict(LocalPool(_crash_or_sleep, 2, timeout=3).run([1, 2, 3, 4, 5]))
    assert {k: v for k, v in results.items() if not isinstance(v, Failure)} == {1: 10, 3: 30, 5: 50}
    assert "died" in results[2].message and "SIGKILL" in results[2].message
    assert "exceeded --timeout 3 s" in results[4].message


def test_machine_pattern(tmp_path):
    flat = tmp_path / "incoming"
    flat.mkdir()
    shutil.copy(DUMPS / "win10-x64-series-t0.dmp", flat / "ticket-17_host-web01_MEMORY.DMP")
    with zipfile.ZipFile(flat / "ticket-18.zip", "w") as z:
        z.write(DUMPS / "win10-x64-series-t1.dmp", "host-db02/MEMORY.DMP")
    db = tmp_path / "index.sqlite"
    result = run_scan(flat, db, "--workers", "0", "--machine-pattern", r"host-(?P<machine>\w+?\d+)")
    assert result.returncode == 0, result.stderr
    assert sorted(sqlite3.connect(db).execute("SELECT machine FROM dumps")) == [("db02",), ("web01",)]
    # a new pattern renames the machines without analyzing anything again
    result = run_scan(flat, db, "--workers", "0", "--machine-pattern", r"ticket-(?P<machine>\d+)")
    assert "0 inputs analyzed" in result.stderr, result.stderr
    assert sorted(sqlite3.connect(db).execute("SELECT machine FROM dumps")) == [("17",), ("18",)]
    result = run_scan(flat, db, "--machine-pattern", "(unclosed")
    assert result.returncode == 2 and "--machine-pattern" in result.stderr
