"""dumpscan benchmark: a large synthetic dump, measured side by side in one run.

    .venv/bin/python benchmarks/run.py [--big-entries N] [--tracked N] [--gib N]
                                       [--small-blocks N] [--keep DIR] [--vol-timeout S]

Builds the factory's large scenario (``dumpscan synth --large``) in a temporary directory
(or in DIR with --keep, which is then left in place), then runs, each as its own
process so its wall time, CPU time and peak RSS are its own (``os.wait4``):

* the factory build;
* ``dumpscan analyze --format json`` end to end. Before any figure is printed, its
  report must equal the factory's truth in full (modules, every verifier allocation,
  every big-pool row, every tag, the trace log, every pool block, the process list:
  ``truth_differences``), and unmodified Volatility3's ``windows.modules`` must list
  exactly the truth's modules; otherwise the run stops with the differences and exit
  status 2: a figure counts only on a dump that is analyzed right;
* Volatility3's ``windows.bigpools``, unmodified (no ``-p``), and with ``-p plugins``
  (dumpscan's crash-dump layer and header automagic), after one ``windows.info`` per
  mode to fill Volatility's symbol cache;
* our big-pool walk: open_kernel + read_big_pool (open, read, decode), which also
  prints the row count and a checksum of (va, key, bytes, free) for the truth check;
* our pool walk: open_kernel + read_big_pool + read_pool_blocks (every block: the
  segment heap's LFH/VS blocks and the big ones), with the rows' count and a checksum
  of (address, key, size, allocated) for the truth check (``pool_blocks``);
* ``vol -p plugins windows.poolleak`` when that plugin is there.

Prints a table of the figures and PASS/FAIL per target: big-pool walk >= 20x faster than
windows.bigpools, poolleak end to end < 30 s, every peak RSS < 1 GiB, and the walk's rows
equal the factory's truth. A Volatility run still going after --vol-timeout seconds is
stopped; its time is then a lower bound (shown with '>') and so is the speed-up.
Exit status 0 when every target passes, 1 otherwise, 2 when the dump is not analyzed
equal to its truth (no figures then).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = Path(sys.executable)
BIN = PYTHON.parent
PLUGINS = ROOT / "plugins"
GIB = 1 << 30


@dataclass
class Run:
    what: str
    seconds: float
    peak_mib: float
    cpu_seconds: float  # user + system time: close to the wall time of a one-thread run on an idle machine
    status: int
    timed_out: bool = False
    note: str = ""

    @property
    def shown_seconds(self) -> str:
        return (">" if self.timed_out else "") + f"{self.seconds:.2f}"


def measure(what: str, command: list[str], stdout: Path, timeout: float | None = None,
            env: dict | None = None) -> Run:
    """Run ``command`` (stdout to a file, stderr kept): wall time, the child's own peak
    RSS (wait4), exit status; killed (and marked) after ``timeout`` seconds."""
    start = time.perf_counter()
    with open(stdout, "wb") as out, open(stdout.with_suffix(".err"), "wb") as err:
        proc = subprocess.Popen(command, stdout=out, stderr=err, env=env, start_new_session=True)
        timed_out = False
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if timeout is not None and time.perf_counter() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
    seconds = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    note = ""
    if code != 0 and not timed_out:
        lines = stdout.with_suffix(".err").read_text(errors="replace").strip().splitlines()
        note = "failed: " + (lines[-1][:200] if lines else "no message")
    return Run(what, seconds, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime, code, timed_out, note)


# -- the big-pool walk, in a child process -------------------------------------------------------
def rows_checksum(va, key, size, free) -> tuple[int, str]:
    """(rows, sha256) of (va, key, bytes, free) rows, sorted: the same for the reader's
    arrays and the truth's lists."""
    import numpy as np

    table = np.zeros(len(va), dtype=[("va", "<u8"), ("key", "<u8"), ("bytes", "<u8"), ("free", "<u8")])
    table["va"], table["key"], table["bytes"], table["free"] = va, key, size, free
    table.sort(order=["va", "key", "bytes", "free"])
    return len(table), hashlib.sha256(table.tobytes()).hexdigest()


def walk(dump: str, symbols: str) -> None:
    """open + read + decode of the big-pool table, timed inside; prints one JSON line."""
    start = time.perf_counter()
    from dumpscan.kernel.bigpool import read_big_pool
    from dumpscan.vol.open import open_kernel

    imported = time.perf_counter()
    opened = open_kernel(dump, [Path(symbols)])
    table = read_big_pool(opened.view)
    done = time.perf_counter()
    entries = table.entries
    rows, digest = rows_checksum(entries["va"], entries["key"], entries["bytes"], entries["free"])
    print(json.dumps({"import": imported - start, "open_read_decode": done - imported, "rows": rows,
                      "checksum": digest, "warnings": list(table.warnings)}))


def verify(truth: Path, report: Path) -> None:
    """The report against the truth, in full, in a child process (so that the big
    documents never grow the parent, whose size every later child would inherit in
    its peak RSS); prints one JSON line: the differences and the truth's modules."""
    from dumpscan.synth.truth import truth_differences

    expected = json.loads(truth.read_text())
    problems = truth_differences(expected, json.loads(report.read_text()))
    mask = (1 << 48) - 1  # Volatility prints kernel addresses without the sign extension
    modules = [(m["name"], hex(m["base"] & mask), hex(m["size"])) for m in expected["modules"]]
    print(json.dumps({"differences": len(problems), "first": problems[:20], "modules": modules}))


def verification_failures(truth: Path, report: Path, dump: Path, symbols: Path, work: Path,
                          logs: Path, env: dict) -> list[str]:
    """Why the dump does not count (empty when it does): the analysis against the truth,
    in full, and unmodified Volatility3's module list against the truth's."""
    checked = subprocess.run([str(PYTHON), str(Path(__file__).resolve()), "--verify", str(truth), str(report)],
                             capture_output=True, text=True, env=env)
    if checked.returncode != 0:
        return [f"the truth check failed: {checked.stderr.strip()[-500:]}"]
    result = json.loads(checked.stdout.strip().splitlines()[-1])
    failures = []
    if result["differences"]:
        failures.append(f"dumpscan analyze differs from the truth in {result['differences']} places, first:")
        failures += [f"  {line}" for line in result["first"]]
    cache = work / "volcache-modules"  # its own: the measured windows.info rows fill theirs
    cache.mkdir(exist_ok=True)
    listed = subprocess.run([str(BIN / "vol"), "-q", "--offline", "--cache-path", str(cache), "-r", "json",
                             "-s", str(symbols), "-f", str(dump), "windows.modules"],
                            capture_output=True, text=True, env=env)
    (logs / "modules.json").write_text(listed.stdout)
    if listed.returncode != 0:
        return failures + [f"vol windows.modules failed: {listed.stderr.strip()[-300:]}"]
    seen = [[r["Name"], hex(r["Base"]), hex(r["Size"])] for r in json.loads(listed.stdout)]
    if seen != result["modules"]:
        failures.append(f"vol windows.modules lists {seen}; the truth has {result['modules']}")
    return failures


def pool_walk(dump: str, symbols: str) -> None:
    """open + the pool walk (big-pool table, then every small block), timed inside; prints
    one JSON line with the rows' count and checksum (address, key, size, allocated)."""
    start = time.perf_counter()
    from dumpscan.kernel.bigpool import read_big_pool
    from dumpscan.kernel.poolwalk import read_pool_blocks
    from dumpscan.vol.open import open_kernel

    imported = time.perf_counter()
    opened = open_kernel(dump, [Path(symbols)])
    walked = read_pool_blocks(opened.view, read_big_pool(opened.view))
    done = time.perf_counter()
    blocks = walked.blocks
    rows, digest = rows_checksum(blocks["address"], blocks["key"], blocks["size"], blocks["allocated"])
    print(json.dumps({"import": imported - start, "open_walk": done - imported, "rows": rows,
                      "small": int((blocks["source"] != 3).sum()), "checksum": digest,
                      "failures": walked.failures, "warnings": list(walked.warnings)}))


def truth_checksum(truth: Path) -> tuple[tuple[int, str], tuple[int, str]]:
    """(big-pool rows, pool_blocks rows): count and checksum of each."""
    document = json.loads(truth.read_text())
    rows, blocks = document["bigpool"], document["pool_blocks"]["blocks"]
    del document
    big = rows_checksum([r["va"] for r in rows], [r["key"] for r in rows], [r["bytes"] for r in rows],
                        [int(r["free"]) for r in rows])
    walk = rows_checksum([b["address"] for b in blocks], [b["key"] for b in blocks],
                         [b["size"] for b in blocks], [int(b["allocated"]) for b in blocks])
    return big, walk


# -- the run ----------------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--big-entries", type=int, default=1_000_000)
    parser.add_argument("--tracked", type=int, default=100_000)
    parser.add_argument("--gib", type=int, default=16)
    parser.add_argument("--small-blocks", type=int, default=0,
                        help="more small (LFH) blocks in the dump (the pool walk's 2,000,000-block goal)")
    parser.add_argument("--keep", type=Path, help="build in (and keep) this directory")
    parser.add_argument("--vol-timeout", type=float, default=3600.0,
                        help="stop a Volatility run after this many seconds (default 3600)")
    parser.add_argument("--walk", nargs=2, metavar=("DUMP", "SYMBOLS"), help=argparse.SUPPRESS)
    parser.add_argument("--verify", nargs=2, metavar=("TRUTH", "REPORT"), help=argparse.SUPPRESS)
    parser.add_argument("--pool-walk", nargs=2, metavar=("DUMP", "SYMBOLS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.walk:
        walk(*args.walk)
        return 0
    if args.verify:
        verify(*map(Path, args.verify))
        return 0
    if args.pool_walk:
        pool_walk(*args.pool_walk)
        return 0

    work = args.keep or Path(tempfile.mkdtemp(prefix="dumpscan-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    dumps, symbols, logs = work / "dumps", work / "symbols", work / "logs"
    logs.mkdir(exist_ok=True)
    name = f"large-win10-x64-{args.big_entries}-{args.tracked}" + (
        f"-{args.small_blocks}" if args.small_blocks else "")
    dump, truth = dumps / f"{name}.dmp", dumps / f"{name}.truth.json"
    env = dict(os.environ, PYTHONWARNINGS="ignore")
    runs: list[Run] = []
    try:
        print(f"work directory: {work}", flush=True)
        build = measure("factory build (dumpscan synth --large)",
                        [str(BIN / "dumpscan"), "synth", "--large", "--big-entries", str(args.big_entries),
                         "--tracked", str(args.tracked), "--gib", str(args.gib),
                         "--small-blocks", str(args.small_blocks), "--out", str(dumps),
                         "--symbols-out", str(symbols)], logs / "build.out", env=env)
        runs.append(build)
        if build.status != 0:
            print((logs / "build.err").read_text(), file=sys.stderr)
            return 1
        analyze = measure("dumpscan analyze --format json (end to end)",
                          [str(BIN / "dumpscan"), "analyze", "--format", "json", "-s", str(symbols),
                           str(dump)], logs / "analyze.json", env=env)
        analyze.note = analyze.note or f"{(logs / 'analyze.json').stat().st_size / 2**20:.0f} MiB of JSON"
        failures = (verification_failures(truth, logs / "analyze.json", dump, symbols, work, logs, env)
                    if analyze.status == 0 else [f"dumpscan analyze failed: {analyze.note}"])
        if failures:
            print("benchmark stopped: the dump is not analyzed equal to its truth, so no figure "
                  "counts:", file=sys.stderr)
            for line in failures:
                print(f"  {line}", file=sys.stderr)
            return 2
        print("verified: dumpscan analyze equals the truth in full (modules, verifier allocations, "
              "big pool, tags, trace log, pool blocks, processes); vol windows.modules lists the "
              "truth's modules", flush=True)
        size = dump.stat().st_size
        print(f"dump: {dump} ({size / 2**20:.0f} MiB on disk, {args.gib} GiB physical space), "
              f"built in {build.seconds:.1f} s", flush=True)

        cache = work / "volcache"
        cache.mkdir(exist_ok=True)  # Volatility wants its cache directory to exist
        vol = [str(BIN / "vol"), "-q", "--offline", "--cache-path", str(cache), "-s", str(symbols)]
        results: dict[str, Run] = {}
        for label, extra in (("vol", []), ("vol -p plugins", ["-p", str(PLUGINS)])):
            warm = measure(f"{label} windows.info (fills the symbol cache)",
                           vol + extra + ["-f", str(dump), "windows.info"], logs / "info.out",
                           timeout=args.vol_timeout, env=env)
            runs.append(warm)
            print(f"  {warm.what}: {warm.shown_seconds} s", flush=True)
            run = measure(f"{label} windows.bigpools", vol + extra + ["-f", str(dump), "windows.bigpools"],
                          logs / f"bigpools{'-p' if extra else ''}.out", timeout=args.vol_timeout, env=env)
            lines = sum(1 for _ in open(logs / f"bigpools{'-p' if extra else ''}.out", "rb"))
            run.note = run.note or f"{lines} lines of output" + (" when stopped" if run.timed_out else "")
            runs.append(run)
            results[label] = run
            print(f"  {run.what}: {run.shown_seconds} s ({run.note})", flush=True)

        ours = measure("our big-pool walk (open + read + decode)",
                       [str(PYTHON), str(Path(__file__).resolve()), "--walk", str(dump), str(symbols)],
                       logs / "walk.out", env=env)
        walked = json.loads((logs / "walk.out").read_text().strip().splitlines()[-1]) if ours.status == 0 else {}
        ours.note = ours.note or (f"in-process open+read+decode {walked.get('open_read_decode', 0):.2f} s, "
                     f"imports {walked.get('import', 0):.2f} s") if walked else "failed"
        runs.append(ours)
        print(f"  {ours.what}: {ours.seconds:.2f} s ({ours.note})", flush=True)

        walker = measure("our pool walk (open + big-pool table + every small block)",
                         [str(PYTHON), str(Path(__file__).resolve()), "--pool-walk", str(dump), str(symbols)],
                         logs / "poolwalk.out", env=env)
        pooled = (json.loads((logs / "poolwalk.out").read_text().strip().splitlines()[-1])
                  if walker.status == 0 else {})
        walker.note = walker.note or (f"in-process open+walk {pooled.get('open_walk', 0):.2f} s, "
                                      f"{pooled.get('rows', 0):,} blocks ({pooled.get('small', 0):,} small)"
                                      if pooled else "failed")
        runs.append(walker)
        print(f"  {walker.what}: {walker.seconds:.2f} s ({walker.note})", flush=True)

        runs.append(analyze)
        print(f"  {analyze.what}: {analyze.seconds:.2f} s", flush=True)

        poolleak = None
        if (PLUGINS / "windows" / "poolleak.py").is_file():
            poolleak = measure("vol -p plugins windows.poolleak (end to end)",
                               vol + ["-p", str(PLUGINS), "-f", str(dump), "windows.poolleak"],
                               logs / "poolleak.out", timeout=args.vol_timeout, env=env)
            runs.append(poolleak)
            print(f"  {poolleak.what}: {poolleak.shown_seconds} s", flush=True)
        else:
            print("  vol -p plugins windows.poolleak: skipped (plugins/windows/poolleak.py not there yet)")

        (truth_rows, truth_sum), (truth_blocks, truth_blocks_sum) = truth_checksum(truth)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)

    # -- the table --------------------------------------------------------------------------------
    print()
    print(f"{'measured process':56} {'wall s':>9} {'cpu s':>7} {'peak RSS MiB':>13}  notes")
    print("-" * 110)
    for run in runs:
        status = "" if run.status == 0 or run.timed_out else f" (exit {run.status})"
        print(f"{run.what:56} {run.shown_seconds:>9} {run.cpu_seconds:>7.2f} {run.peak_mib:>13.0f}  "
              f"{run.note}{status}")
    print()
    checks: list[tuple[str, bool, str]] = []
    for label, run in results.items():
        ratio = run.seconds / ours.seconds if ours.seconds else 0.0
        bound = ">" if run.timed_out else ""
        checks.append((f"big-pool walk >= 20x faster than {label} windows.bigpools",
                       ours.status == 0 and (run.status == 0 or run.timed_out) and ratio >= 20,
                       f"{bound}{ratio:.0f}x ({run.shown_seconds} s vs {ours.seconds:.2f} s)"))
    if poolleak is not None:
        checks.append(("poolleak end to end < 30 s", poolleak.status == 0 and poolleak.seconds < 30,
                       f"{poolleak.shown_seconds} s" + ("" if poolleak.status == 0 else " (failed)")))
    checks.append(("dumpscan analyze end to end < 30 s", analyze.status == 0 and analyze.seconds < 30,
                   f"{analyze.seconds:.2f} s"))
    for run in runs:
        if run.timed_out or run is build:
            continue  # a stopped run's peak is partial; the factory is test tooling
        checks.append((f"peak RSS < 1 GiB: {run.what}", run.peak_mib < 1024, f"{run.peak_mib:.0f} MiB"))
    checks.append(("big-pool rows == truth (count)", walked.get("rows") == truth_rows,
                   f"{walked.get('rows')} vs {truth_rows}"))
    checks.append(("big-pool (va, key, bytes, free) checksum == truth", walked.get("checksum") == truth_sum,
                   f"{str(walked.get('checksum'))[:16]}... vs {truth_sum[:16]}..."))
    checks.append(("pool walk < 10 s (in-process open + walk)",
                   walker.status == 0 and pooled.get("open_walk", 99) < 10,
                   f"{pooled.get('open_walk', 0):.2f} s for {pooled.get('small', 0):,} small blocks"))
    checks.append(("pool walk blocks == truth (count)", pooled.get("rows") == truth_blocks,
                   f"{pooled.get('rows')} vs {truth_blocks}"))
    checks.append(("pool walk (address, key, size, allocated) checksum == truth",
                   pooled.get("checksum") == truth_blocks_sum,
                   f"{str(pooled.get('checksum'))[:16]}... vs {truth_blocks_sum[:16]}..."))
    checks.append(("pool walk: no decode failures", walker.status == 0 and not pooled.get("failures"),
                   str(pooled.get("failures"))))
    for what, ok, detail in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {what:70} {detail}")
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
