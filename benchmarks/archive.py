"""Archive-scanning benchmark: printed figures, not tests.

    python benchmarks/archive.py [--dumps 208] [--rescan-dumps 1000] [--query-dumps 10000]
                                 [--big-entries 300000] [--skip-large] [--keep DIR]

1. Scan throughput over >= 200 small dumps (copies of the bundled dumps under distinct
   names in 8 machine folders, 8 of them in 4 zips): ``dumpscan scan --workers 1`` and
   ``--workers 2``, each into a fresh index. Target: workers 2 >= 1.8x workers 1.
2. Re-scan of an unchanged 1,000-dump archive (hard links of the bundled dumps; the index
   rows of the links are copied from a real scan of the originals, since analyzing 1,000
   dumps first would only measure (1)). Target: < 2 s for the whole command.
3. ``dumpscan query top-tags`` over an index of 10,000 dumps (rows synthesized from the
   bundled dumps' real tag rows, bytes scaled per dump). Target: < 1 s for the whole command.
4. The large benchmark dump (``dumpscan synth --large``): ``dumpscan scan --workers 1`` vs
   ``dumpscan analyze --format json``, best of two each. Target: scan <= analyze + 10%.

Every figure is a wall time of the whole command (interpreter start included).
"""
from __future__ import annotations

import argparse
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DUMPS = ROOT / "testdata" / "dumps"
SYMBOLS = ROOT / "testdata" / "symbols"
DUMPSCAN = [sys.executable, "-m", "dumpscan"]


def timed(command: list[str], **kwargs) -> float:
    start = time.monotonic()
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}\n{result.stderr}")
    return seconds


def bundled() -> list[Path]:
    return sorted(DUMPS.glob("*.dmp"))


def _spin(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i
    return total


def calibration(spins: int = 20_000_000) -> float:
    """What two processes get on this machine right now: the speed-up of two copies of a
    pure-CPU loop run side by side over run one after the other (2.0 on two free cores)."""
    from multiprocessing import Pool

    start = time.monotonic()
    _spin(spins)
    _spin(spins)
    serial = time.monotonic() - start
    with Pool(2) as pool:
        start = time.monotonic()
        pool.map(_spin, [spins, spins])
        parallel = time.monotonic() - start
    return serial / parallel


def throughput(work: Path, count: int) -> dict:
    work.mkdir(parents=True)
    archive = work / "throughput"
    sources = bundled()
    zipped = 0
    for i in range(count):
        source = sources[i % len(sources)]
        folder = archive / f"machine-{i % 8}"
        folder.mkdir(parents=True, exist_ok=True)
        if i % 25 == 0 and zipped < 8:  # 8 of them in 4 zips, two a zip
            (archive / "zipped").mkdir(exist_ok=True)
            with zipfile.ZipFile(archive / "zipped" / f"case-{zipped // 2}.zip", "a", zipfile.ZIP_DEFLATED) as z:
                z.write(source, f"{i:04d}-{source.name}")
            zipped += 1
        else:
            shutil.copy(source, folder / f"{i:04d}-{source.stem}.dmp")
    figures = {}
    for workers in (1, 2):
        db = work / f"throughput-{workers}.sqlite"
        figures[workers] = timed(DUMPSCAN + ["scan", str(archive), "--db", str(db), "-s", str(SYMBOLS),
                                             "--workers", str(workers), "-q"])
        conn = sqlite3.connect(db)
        figures[f"rows{workers}"] = conn.execute("SELECT status, count(*) FROM dumps GROUP BY status").fetchall()
        conn.close()
    return figures


def copy_rows(conn: sqlite3.Connection, source_id: int, path: str, machine: str, factor: float = 1.0) -> None:
    """The rows of dump ``source_id`` again, as the dump at ``path`` (bytes scaled by ``factor``)."""
    from dumpscan.archive.index import CHILD_TABLES, add_tag_totals, columns, dump_id

    ident = dump_id(path, None)
    names = columns("dumps")
    row = dict(zip(names, conn.execute(f"SELECT {', '.join(names)} FROM dumps WHERE id = ?", (source_id,)).fetchone()))
    row.update(id=ident, path=path, machine=machine)
    conn.execute(f"INSERT INTO dumps ({', '.join(names)}) VALUES ({', '.join('?' * len(names))})",
                 [row[n] for n in names])
    for table in CHILD_TABLES:
        names = columns(table)
        picked = [n if n != "dump_id" else "?" for n in names]
        if factor != 1.0 and table == "tags":
            picked = [f"CAST({n} * {factor} AS INTEGER)" if n.endswith("_bytes") else p
                      for n, p in zip(names, picked)]
        conn.execute(f"INSERT INTO {table} ({', '.join(names)}) SELECT {', '.join(picked)} FROM {table} "
                     f"WHERE dump_id = ?", (ident, source_id))
    add_tag_totals(conn, ident)


def seed_index(work: Path, name: str) -> tuple[Path, list[tuple[int, str, int]]]:
    """An index of the bundled dumps (hard-linked under work/seed): (db, [(id, path, inode)])."""
    seed = work / f"seed-{name}"
    seed.mkdir(parents=True)
    for source in bundled():
        os.link(source, seed / source.name)
    db = work / f"{name}.sqlite"
    timed(DUMPSCAN + ["scan", str(seed), "--db", str(db), "-s", str(SYMBOLS), "--workers", "2", "-q"])
    conn = sqlite3.connect(db)
    rows = [(i, p, os.stat(p).st_ino) for i, p in conn.execute("SELECT id, path FROM dumps WHERE status = 'ok'")]
    conn.close()
    return db, rows


def rescan(work: Path, count: int) -> float:
    from dumpscan.archive.index import CHILD_TABLES, add_tag_totals

    db, seeds = seed_index(work, "rescan")
    archive = work / "rescan"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    for i in range(count):
        ident, path, _ = seeds[i % len(seeds)]
        machine = f"machine-{i % 20}"
        target = archive / machine / f"{i:05d}-{Path(path).name}"
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(path, target)
        copy_rows(conn, ident, str(target), machine)
    for (ident,) in conn.execute("SELECT id FROM dumps WHERE path LIKE ?", (str(work / "seed-rescan") + "/%",)).fetchall():
        add_tag_totals(conn, ident, "-")
        for table in CHILD_TABLES:
            conn.execute(f"DELETE FROM {table} WHERE dump_id = ?", (ident,))
        conn.execute("DELETE FROM dumps WHERE id = ?", (ident,))
    conn.execute("COMMIT")
    conn.close()
    return timed(DUMPSCAN + ["scan", str(archive), "--db", str(db), "-s", str(SYMBOLS), "--workers", "2"])


def query(work: Path, count: int) -> dict:
    db, seeds = seed_index(work, "query")
    rng = random.Random(7)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN")
    for i in range(count):
        ident, path, _ = seeds[i % len(seeds)]
        copy_rows(conn, ident, f"/archive/machine-{i % 500}/{i:05d}.dmp", f"machine-{i % 500}",
                  factor=rng.uniform(0.5, 2.0))
    conn.execute("COMMIT")
    dumps, tags = conn.execute("SELECT (SELECT count(*) FROM dumps), (SELECT count(*) FROM tags)").fetchone()
    conn.close()
    figures = {"dumps": dumps, "tag_rows": tags}
    from dumpscan.archive.index import open_index
    from dumpscan.archive.queries import QUERIES, IndexSource
    from dumpscan.views.options import Query

    conn = open_index(db, read_only=True)
    start = time.process_time()
    QUERIES["top-tags"].table(IndexSource(conn), Query())
    figures["top-tags in-process cpu"] = time.process_time() - start
    conn.close()
    for name, extra in (("top-tags", []), ("tag-over", ["--tag", "Lea*", "--min-bytes", "20000000", "--top", "20"]),
                        ("top-suspect-drivers", [])):
        figures[name] = min(timed(DUMPSCAN + ["query", "--db", str(db), name, *extra]) for _ in range(3))
    return figures


def large(work: Path, big_entries: int) -> dict:
    work.mkdir(parents=True)
    out = work / "large"
    timed(DUMPSCAN + ["synth", "--large", "--big-entries", str(big_entries), "--out", str(out)], cwd=work)
    dump = next(out.glob("*.dmp"))
    symbols = work / "testdata" / "symbols"  # where synth --large puts them (relative to its cwd)
    if not symbols.is_dir():
        symbols = out / "symbols"
    analyze, scan = [], []
    for attempt in range(2):
        with open(work / "report.json", "w") as sink:
            start = time.monotonic()
            subprocess.run(DUMPSCAN + ["analyze", "--format", "json", "-s", str(symbols), str(dump)],
                           stdout=sink, check=True)
            analyze.append(time.monotonic() - start)
        db = work / f"large-{attempt}.sqlite"
        scan.append(timed(DUMPSCAN + ["scan", str(out), "--db", str(db), "-s", str(symbols), "--workers", "1"]))
    return {"dump": dump.name, "size_mib": dump.stat().st_size / 2**20, "analyze": min(analyze), "scan": min(scan)}


class Figures(list):
    """(what, figure, verdict) rows: each printed as soon as it is measured, the table at the end."""

    def append(self, row: tuple[str, str, str]) -> None:
        print(f"{row[0]}: {row[1]} {row[2]}", flush=True)
        super().append(row)


def main() -> int:
    print(f"load average before: {os.getloadavg()[0]:.1f} (2-core machine shared with other jobs)", flush=True)
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dumps", type=int, default=208)
    parser.add_argument("--rescan-dumps", type=int, default=1000)
    parser.add_argument("--query-dumps", type=int, default=10000)
    parser.add_argument("--big-entries", type=int, default=1_000_000)
    parser.add_argument("--skip-large", action="store_true")
    parser.add_argument("--only", choices=("throughput", "rescan", "query", "large"),
                        help="Run one measurement only.")
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="dumpscan-archive-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results = Figures()
    wanted = {args.only} if args.only else {"throughput", "rescan", "query"} | (set() if args.skip_large else {"large"})
    try:
        if "throughput" in wanted:
            results.append(("calibration: a CPU loop, 2 processes vs 1", f"{calibration():.2f}x", "(2.0 on two free cores)"))
            t = throughput(work / "t", args.dumps)
            speedup = t[1] / t[2]
            results.append((f"scan {args.dumps} dumps, --workers 1", f"{t[1]:.1f} s ({args.dumps / t[1]:.1f} dumps/s)", ""))
            results.append((f"scan {args.dumps} dumps, --workers 2", f"{t[2]:.1f} s ({args.dumps / t[2]:.1f} dumps/s)",
                            f"{'PASS' if speedup >= 1.8 else 'FAIL'}: {speedup:.2f}x (target >= 1.8x)"))
            results.append(("calibration again", f"{calibration():.2f}x", ""))
        if "rescan" in wanted:
            r = rescan(work / "r", args.rescan_dumps)
            results.append((f"re-scan of an unchanged {args.rescan_dumps}-dump archive", f"{r:.2f} s",
                            f"{'PASS' if r < 2 else 'FAIL'} (target < 2 s)"))
        if "query" in wanted:
            q = query(work / "q", args.query_dumps)
            results.append((f"query top-tags, {q['dumps']} dumps / {q['tag_rows']} tag rows", f"{q['top-tags']:.2f} s",
                            f"{'PASS' if q['top-tags'] < 1 else 'FAIL'} (target < 1 s)"))
            results.append(("  of which the query itself (in-process CPU)", f"{q['top-tags in-process cpu']:.3f} s", ""))
            results.append(("query tag-over --tag 'Lea*' (same index)", f"{q['tag-over']:.2f} s", ""))
            results.append(("query top-suspect-drivers (same index)", f"{q['top-suspect-drivers']:.2f} s", ""))
        if "large" in wanted:
            big = large(work / "l", args.big_entries)
            ratio = big["scan"] / big["analyze"]
            results.append((f"analyze --format json, {big['dump']} ({big['size_mib']:.0f} MiB)", f"{big['analyze']:.2f} s", ""))
            results.append(("scan --workers 1, the same dump", f"{big['scan']:.2f} s",
                            f"{'PASS' if ratio <= 1.10 else 'FAIL'}: {100 * (ratio - 1):+.1f}% (target <= +10%)"))
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    width = max(len(r[0]) for r in results)
    for what, figure, verdict in results:
        print(f"{what:<{width}}  {figure:>28}  {verdict}")
    return 0 if all("FAIL" not in r[2] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
