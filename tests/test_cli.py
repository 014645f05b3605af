"""The ``dumpscan`` command through its real entry point (the installed console script),
against the factory's ground truth: every bundled dump's ``analyze --format json`` report
contains its truth file; the text/CSV views; one-line errors and exit statuses; diff and
series over the win10-x64-series dumps; batch over the archive plus a garbage file.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import pytest

from conftest import DUMPS, SYMBOLS, bundled, load_truth
from test_engine_truth import subset_diff

DUMPSCAN = Path(sys.executable).with_name("dumpscan")
X86 = DUMPS / "win81-x86-verifier.dmp"
WIN7 = DUMPS / "win7-x64-poolhittag.dmp"
SERIES = [DUMPS / f"win10-x64-series-t{i}.dmp" for i in range(3)]
NAMES = bundled()


def run(*args: str, env: dict | None = None, cwd: Path | None = None) -> subprocess.CompletedProcess:
    environment = dict(os.environ, PYTHONWARNINGS="ignore")
    environment.pop("DUMPSCAN_SYMBOLS", None)
    environment.update(env or {})
    return subprocess.run([str(DUMPSCAN), *map(str, args)], capture_output=True, text=True,
                          timeout=300, env=environment, cwd=cwd)


def no_traceback(result: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr


@lru_cache(maxsize=None)
def all_reports() -> dict[str, dict]:
    """One `dumpscan analyze --format json DIR` run over every bundled dump."""
    result = run("analyze", "-q", "--format", "json", "-s", SYMBOLS, DUMPS)
    assert result.returncode == 0, result.stderr
    documents = json.loads(result.stdout)
    assert isinstance(documents, list) and len(documents) == len(NAMES)
    return {Path(d["header"]["dump"]).name[: -len(".dmp")]: d for d in documents}


@pytest.mark.parametrize("name", NAMES)
def test_json_report_contains_the_truth(name):
    report = all_reports()[name]
    problems = subset_diff(load_truth(name), report)
    assert not problems, f"{name}: " + "\n  ".join(problems[:30])
    assert report["schema"] == "dumpscan.report/1"
    leaks = report["leaks"]
    assert leaks["suspects"] and leaks["exit_status"] in (0, 1)


def test_json_of_one_dump_is_one_document_with_leaks():
    result = run("analyze", "--format", "json", "-s", SYMBOLS, X86)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert not subset_diff(load_truth("win81-x86-verifier"), report)
    first = report["leaks"]["suspects"][0]
    assert (first["kind"], first["name"], first["severity"]) == ("tag", "Leak", "high")
    assert report["leaks"]["exit_status"] == 1


def test_text_report_names_the_suspect_and_its_call_site():
    result = run("analyze", "-s", SYMBOLS, X86)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "Suspects (2)" in out and "1. tag 'Leak'  [high]  10280960 bytes" in out
    assert "0x98726659  myfault!PoolLeak+0x21" in out
    assert "98726659 myfault!PoolLeak+0x21" in out  # the newest allocation's stack


def test_text_report_header_says_each_thing_once_and_only_what_is_true():
    out = run("analyze", "-s", SYMBOLS, DUMPS / "win10-x64-verifier-full.dmp").stdout
    header = out.split("\n\nSuspects", 1)[0].splitlines()[3:]
    labels = [line.split(" : ", 1)[0].strip() for line in header]
    assert len(labels) == len(set(labels)), labels
    assert "Dump type" not in labels and "Kernel pdb" not in labels and "System time" not in labels
    assert sum("full dump, run-based" in line for line in header) == 1
    assert sum("1C9875F76C8F0FBF3EB9A9D7C1C27406" in line for line in header
               if not line.startswith("Symbol table")) == 1
    coverage = out.split("\nCoverage\n", 1)[1]
    assert "{" not in coverage and "': " not in coverage  # no Python dicts
    assert "PoolBigPageTable: 1024 of 1024 entries read (at ffff" in coverage
    # exit 0 without --fail-on-suspect: the report must not claim another status
    assert "Exit status" not in out
    assert "Exit thresholds: exceeded (with --fail-on-suspect, dumpscan exits with status 1)" in out


def test_sections_poolused_verifier_history():
    for section in ("poolused", "pooltags"):  # the !poolused name stays an alias of the view's
        result = run("analyze", "-s", SYMBOLS, X86, "--section", section, "--tag", "Lea*", "--tag", "Irp")
        assert result.returncode == 0, result.stderr
        rows = [line.split() for line in result.stdout.splitlines() if line.startswith((" Leak", " Irp"))]
        assert [r[0] for r in rows] == ["Leak", "Irp"]
        assert rows[0][1:5] == ["0", "0", "10", "10280960"] and rows[0][5] == "myfault.sys"

    result = run("analyze", "-s", SYMBOLS, X86, "--section", "verifier", "--driver", "myfault")
    lines = [l for l in result.stdout.splitlines() if "0x000fb000  Leak  0x98726659  myfault!PoolLeak+0x21" in l]
    assert len(lines) == 10 and "MODULE: " in result.stdout and "myfault.sys (Loaded)" in result.stdout
    assert "Current paged pool allocations         0xa for 009CE000 bytes" in result.stdout

    result = run("analyze", "-s", SYMBOLS, X86, "--address", "0x9ca00000")
    blocks = [l for l in result.stdout.splitlines() if l.startswith("Pool block")]
    assert blocks == ["Pool block 9ca00000, Size 000fa000, Thread 98090400",
                      "Pool block 9ca00000, Size 000fb000, Thread 980cd040",
                      "Pool block 9ca00000, Size 000fa000, Thread 98090300"]
    assert "987266bb myfault!FreePoolLeak+0x33" in result.stdout


def test_csv_sections_parse():
    def rows(*extra, dump=X86):
        if extra and isinstance(extra[0], Path):
            dump, extra = extra[0], extra[1:]
        result = run("analyze", "-s", SYMBOLS, dump, "--format", "csv", *extra)
        assert result.returncode == 0, result.stderr
        return list(csv.DictReader(io.StringIO(result.stdout)))

    suspects = rows()
    assert suspects[0]["name"] == "Leak" and suspects[0]["severity"] == "high"
    assert {s["severity"] for s in rows("--suspects-only")} <= {"high", "medium", "low"}
    allocations = rows("--section", "verifier")
    assert len(allocations) == 10 and {a["caller_symbol"] for a in allocations} == {"myfault!PoolLeak+0x21"}
    assert {int(a["length"], 16) for a in allocations} == {0xFB000}  # hex, as !verifier 3 prints it
    history = rows("--section", "history", "--address", "9ca00000")
    assert [h["kind"] for h in history] == ["allocate", "free", "allocate"]
    tags = rows("--section", "poolused", "--sort", "paged", "--top", "3")
    assert len(tags) == 3 and tags[0]["tag"] == "Leak"
    big = rows("--section", "bigpool", "--tag", "Leak")
    assert len(big) == 10 and all(b["tag"] == "Leak" for b in big)
    sites = rows("--section", "callsites")
    assert sites[0]["symbol"] == "myfault!PoolLeak+0x21" and sites[0]["count"] == "10"
    # without --address, the newest --top records (default 20), as the text section shows
    full = DUMPS / "win10-x64-verifier-full.dmp"
    report = json.loads(run("analyze", "-q", "-s", SYMBOLS, full, "--format", "json").stdout)
    trace = report["verifier"]["trace_log"]
    assert len(trace) > 20
    newest = rows(full, "--section", "history")
    assert len(newest) == 20 and int(newest[0]["index"]) == trace[-1]["index"]
    assert len(rows(full, "--section", "history", "--top", "5")) == 5


def test_missing_dump_file_is_one_line_and_exit_2(tmp_path):
    missing = tmp_path / "nothere.dmp"
    result = run("analyze", "-s", SYMBOLS, missing)
    no_traceback(result)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [f"dumpscan: {missing}: no such file"]


def test_a_file_that_is_not_a_dump(tmp_path):
    garbage = tmp_path / "garbage.dmp"
    garbage.write_bytes(b"MZ this is not a crash dump" * 200)
    result = run("analyze", "-s", SYMBOLS, garbage)
    no_traceback(result)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dumpscan: {garbage}: not a Windows kernel crash dump")


def test_missing_symbols_name_the_pdb_guid_and_age(tmp_path):
    truth = load_truth("win7-x64-poolhittag")["kernel"]
    result = run("analyze", "-s", tmp_path, WIN7)
    no_traceback(result)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"dumpscan: {WIN7}: no symbol table for")
    assert truth["pdb"] in lines[0] and truth["guid"] in lines[0] and f"age {truth['age']}" in lines[0]


def test_default_symbols_come_from_the_environment_then_the_current_directory(tmp_path):
    result = run("analyze", "--format", "json", X86, env={"DUMPSCAN_SYMBOLS": f"{tmp_path}{os.pathsep}{SYMBOLS}"})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["kernel"]["pdb"] == "ntkrpamp.pdb"
    result = run("analyze", X86.resolve(), cwd=tmp_path)  # ./symbols does not exist here
    assert result.returncode == 2 and "symbols/windows/ntkrpamp.pdb/" in result.stderr
    shutil.copytree(SYMBOLS, tmp_path / "symbols")
    assert run("analyze", X86.resolve(), "--section", "poolused", cwd=tmp_path).returncode == 0
    assert "DUMPSCAN_SYMBOLS" in run("analyze", "--help").stdout


def test_one_bad_dump_does_not_stop_the_others_and_exits_3(tmp_path):
    """A partial failure has its own status: 3 (2 = nothing analyzed, 0 = all analyzed)."""
    result = run("analyze", "-s", SYMBOLS, tmp_path / "nothere.dmp", X86, "--section", "poolused", "--top", "1")
    assert result.returncode == 3
    assert "Leak" in result.stdout and result.stderr.count("dumpscan: ") == 1
    # a failure outranks a finding
    assert run("analyze", "-s", SYMBOLS, tmp_path / "nothere.dmp", X86, "--fail-on-suspect").returncode == 3
    assert "3 some dumps could not be analyzed" in " ".join(run("analyze", "--help").stdout.split())


def test_fail_on_suspect():
    assert run("analyze", "-s", SYMBOLS, X86, "--fail-on-suspect").returncode == 1
    assert run("analyze", "-s", SYMBOLS, X86).returncode == 0
    result = run("analyze", "-s", SYMBOLS, X86, "--fail-on-suspect", "--threshold", f"exit_min_bytes={1 << 50}",
                 "--threshold", f"min_bytes={1 << 50}")
    assert result.returncode == 0, result.stderr


def test_bad_options_are_usage_errors():
    for args in (["--threshold", "no_such=1"], ["--threshold", "min_bytes"], ["--address", "xyz"],
                 ["--format", "csv", "--section", "all"]):
        result = run("analyze", "-s", SYMBOLS, X86, *args)
        no_traceback(result)
        assert result.returncode == 2, (args, result.stderr)


def test_out_writes_a_file(tmp_path):
    target = tmp_path / "report.json"
    result = run("analyze", "-s", SYMBOLS, X86, "--format", "json", "--out", target)
    assert result.returncode == 0 and result.stdout == ""
    assert json.loads(target.read_text())["dump"]["machine"] == "x86"


def test_diff_puts_the_leak_first():
    result = run("diff", "-s", SYMBOLS, "--format", "json", SERIES[0], SERIES[2])
    assert result.returncode == 0, result.stderr
    diff = json.loads(result.stdout)
    assert diff["tags"][0]["tag"] == "Leak" and diff["tags"][0]["bytes_delta"] > 0
    text = run("diff", "-s", SYMBOLS, SERIES[0], SERIES[1]).stdout
    grew = text.split("Tags that grew", 1)[1].splitlines()
    assert grew[3].split()[0] == "Leak"


def test_diff_and_series_fail_on_suspect():
    for command, dumps in (("diff", SERIES[::2]), ("series", SERIES)):
        assert run(command, "-s", SYMBOLS, *dumps).returncode == 0
        assert run(command, "-s", SYMBOLS, "--fail-on-suspect", *dumps).returncode == 1
        assert run(command, "-s", SYMBOLS, "--fail-on-suspect", "--threshold", f"exit_min_bytes={1 << 50}",
                   *dumps).returncode == 0


def test_diff_warns_when_the_dumps_cannot_be_of_one_machine():
    result = run("diff", "-s", SYMBOLS, "--format", "json", X86, DUMPS / "win11-x64-verifier-full.dmp")
    assert result.returncode == 0, result.stderr
    warnings = json.loads(result.stdout)["warnings"]
    assert any("is an x86 dump" in w and "an x64 dump" in w and "cannot be dumps of one machine" in w
               for w in warnings), warnings
    assert any("different kernel builds (6.3.9600 vs 10.0.22000)" in w for w in warnings)
    assert "cannot be dumps of one machine" in result.stderr  # also when the output is JSON
    same = run("diff", "-s", SYMBOLS, "--format", "json", SERIES[0], SERIES[1])
    assert not any("machine" in w for w in json.loads(same.stdout)["warnings"])


def test_dtb_and_kernel_base_options_reach_the_kernel_layer():
    """--dtb and --kernel-base override the header (the hints of the open errors name them)."""
    truth = load_truth("win81-x86-verifier")
    result = run("analyze", "-s", SYMBOLS, X86, "--dtb", hex(truth["dump"]["dtb"]), "--kernel-base",
                 hex(truth["kernel"]["base"]), "--format", "json")
    assert result.returncode == 0, result.stderr
    result = run("analyze", "-s", SYMBOLS, X86, "--dtb", "0x1000")
    assert result.returncode == 2
    assert "the given DTB 0x1000" in result.stderr or "--kernel-base ADDR" in result.stderr, result.stderr
    assert "=...)" not in result.stderr  # no hint at an option that does not exist
    assert run("analyze", "-s", SYMBOLS, X86, "--dtb", "xyz").returncode == 2
    for command in ("diff", "series"):
        assert "--dtb" in run(command, "--help").stdout and "--kernel-base" in run(command, "--help").stdout


def test_python_dash_m_dumpscan():
    result = subprocess.run([sys.executable, "-m", "dumpscan", "--version"], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0 and "0.1.0" in result.stdout


def test_help_imports_neither_numpy_nor_volatility():
    code = ("import sys\nfrom dumpscan.cli import main\ntry:\n    main(['analyze', '--help'])\n"
            "except SystemExit:\n    pass\nprint(sorted(m for m in ('numpy', 'volatility3', 'rich') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_series_puts_the_leak_first():
    result = run("series", "-s", SYMBOLS, "--format", "json", *SERIES)
    assert result.returncode == 0, result.stderr
    series = json.loads(result.stdout)
    assert series["tags"][0]["tag"] == "Leak" and series["tags"][0]["strict"]
    assert [p["label"] for p in series["points"]] == [str(p) for p in SERIES]
    assert series["tags"][0]["outstanding"] == [4, 12, 24]
    assert series["suspects"][0]["name"] == "Leak"
    text = run("series", "-s", SYMBOLS, *SERIES).stdout
    assert "1. tag 'Leak'  [high]" in text


def test_batch_over_the_archive_and_a_garbage_file(tmp_path):
    garbage = tmp_path / "junk.bin"
    garbage.write_bytes(os.urandom(8192))
    result = run("batch", "-s", SYMBOLS, "--workers", "2", "--format", "csv", DUMPS, garbage)
    no_traceback(result)
    assert result.returncode == 3, result.stderr  # some dumps could not be analyzed
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == len(NAMES) + 1
    errors = [r for r in rows if r["status"] != "ok"]
    assert len(errors) == 1 and errors[0]["dump"] == str(garbage)
    assert "not a Windows kernel crash dump" in errors[0]["error"]
    # the top suspect of each dump is its leak: NotMyFault's tag, or the unloaded driver
    assert all(r["top_suspect"].startswith(("tag 'Leak'", "tag 'Lea2'", "driver litware.sys"))
               for r in rows if r["status"] == "ok")
    assert result.stderr.count("dumpscan: ") == 1


def test_batch_of_nothing_but_garbage_exits_2(tmp_path):
    garbage = tmp_path / "junk.dmp"
    garbage.write_bytes(b"\0" * 4096)
    result = run("batch", "-s", SYMBOLS, "--workers", "0", "--format", "json", garbage)
    assert result.returncode == 2
    assert json.loads(result.stdout)[0]["status"] == "error"


def test_diff_of_a_dump_with_itself_is_empty_not_exit_2():
    result = run("diff", "-s", SYMBOLS, "--format", "json", SERIES[0], SERIES[0])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tags"] == []


def test_diff_with_a_missing_dump_says_why(tmp_path):
    result = run("diff", "-s", SYMBOLS, SERIES[0], tmp_path / "nothere.dmp")
    no_traceback(result)
    assert result.returncode == 2 and "nothere.dmp: no such file" in result.stderr


@pytest.mark.parametrize("pair", ["exit_severity=bogus", "max_free_ratio=nan", "top_n=0", "top_n=-3",
                                  "min_bytes=-1", "call_site_share=1.5", "min_bytes=lots"])
def test_bad_threshold_values_are_one_line_usage_errors(pair):
    result = run("analyze", "-s", SYMBOLS, X86, "--threshold", pair)
    no_traceback(result)
    assert result.returncode == 2, (pair, result.stderr)
    assert pair.split("=")[0] in result.stderr
