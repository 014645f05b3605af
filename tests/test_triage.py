"""Triage ("small memory", DumpType 4) dumps: the factory's win10-x64-triage-c4 against its
truth, its header read independently (plain struct at the offsets public sources state),
what `dumpscan analyze` says about it, and broken copies of it made in tmp_path."""
from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from conftest import DUMPS, SYMBOLS, load_truth
from dumpscan.analysis.engine import analyze_path
from dumpscan.dumpfile import (DumpFormatError, DumpSpec, TriageDriverSpec, TriageSpec, open_dump,
                               open_triage, write_triage_dump)
from dumpscan.report.schema import json_schema
from dumpscan.vol.errors import NotAKernelDump
from test_engine_truth import subset_diff

NAME = "win10-x64-triage-c4"
DUMP = DUMPS / f"{NAME}.dmp"
DUMPSCAN = Path(sys.executable).with_name("dumpscan")
TRIAGE = 0x2000  # TRIAGE_DUMP64 follows the 0x2000-byte DUMP_HEADER64


def run(*args) -> subprocess.CompletedProcess:
    proc = subprocess.run([str(DUMPSCAN), *map(str, args)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc


def copy_with(tmp_path: Path, patches: list[tuple[int, bytes]], label: str, size: int | None = None) -> Path:
    target = tmp_path / f"{NAME}-{label}.dmp"
    shutil.copyfile(DUMP, target)
    with open(target, "r+b") as handle:
        for offset, data in patches:
            handle.seek(offset)
            handle.write(data)
        if size is not None:
            handle.truncate(size)
    return target


def u32(data: bytes, offset: int) -> int:
    return struct.unpack_from("<I", data, offset)[0]


def test_analysis_equals_the_truth():
    truth = load_truth(NAME)
    report = analyze_path(DUMP, [SYMBOLS])
    assert subset_diff(truth, report) == []
    assert report["modules"] == truth["modules"]  # every driver, nothing more
    assert (report["triage"]["bugcheck_driver"], report["triage"]["pool_data"]) == ("myfault.sys", False)
    assert report["bigpool"] == report["tags"] == [] and report["verifier"] is None
    jsonschema.validate(report, json_schema())


def test_header_read_independently_agrees_with_the_truth():
    """DumpType @0xF98, BugCheckCode @0x38, parameters @0x40, DirectoryTableBase @0x10
    [kdmp-parser HEADER64]; TRIAGE_DUMP64 @0x2000: ValidOffset +0x8, DriverListOffset +0x30,
    DriverCount +0x34, StringPoolOffset +0x38; DUMP_DRIVER_ENTRY64: DriverNameOffset +0,
    DllBase +0x38, SizeOfImage +0x48 [rizin dmp_specs.h]; 'DGRT' closing the file."""
    data, truth = DUMP.read_bytes(), load_truth(NAME)
    assert data[:8] == b"PAGEDU64" and u32(data, 0xF98) == 4
    assert u32(data, 0x38) == truth["dump"]["bugcheck"]["code"] == 0xC4
    assert list(struct.unpack_from("<4Q", data, 0x40)) == truth["dump"]["bugcheck"]["parameters"]
    assert struct.unpack_from("<Q", data, 0x10)[0] == truth["dump"]["dtb"]
    size, valid = u32(data, TRIAGE + 4), u32(data, TRIAGE + 8)
    assert size == len(data) and valid == size - 4 and data[valid:valid + 4] == b"TRGD"
    entries, count, pool = u32(data, TRIAGE + 0x30), u32(data, TRIAGE + 0x34), u32(data, TRIAGE + 0x38)
    assert count == len(truth["modules"])
    stride = (pool - entries) // count
    for index, module in enumerate(truth["modules"]):
        at = entries + index * stride
        name_at = u32(data, at)
        chars = u32(data, name_at)
        assert data[name_at + 4:name_at + 4 + 2 * chars].decode("utf-16-le") == module["path"]
        assert struct.unpack_from("<Q", data, at + 0x38)[0] == module["base"]
        assert u32(data, at + 0x48) == module["size"]


def test_kdmp_parser_does_not_read_triage_dumps():
    """kdmp-parser 0.7.4 reads DumpType 1, 5, 6, 8, 9, 0xA only; hence the independent
    header check above."""
    kdmp_parser = pytest.importorskip("kdmp_parser")
    with pytest.raises(RuntimeError):
        kdmp_parser.KernelDumpParser(str(DUMP))


def test_open_dump_refuses_it_naming_the_triage_reader():
    with pytest.raises(DumpFormatError, match=r"triage / small memory dump \(4\) holds no physical memory"):
        open_dump(DUMP)


def test_the_text_report_says_what_the_dump_is_and_says():
    proc = run("analyze", "-s", SYMBOLS, DUMP)
    assert proc.returncode == 0
    out = proc.stdout
    assert out.startswith(f"{DUMP}: a small memory dump (triage dump, DumpType 4), x64, Windows build 19041")
    assert "Bug check 0xC4 DRIVER_VERIFIER_DETECTED_VIOLATION" in out
    assert "Arg1: 0000000000000062  type of violation (0x62)" in out
    assert "Driver named by the bug check: myfault.sys" in out
    assert "a driver is unloading without first freeing all of its pool allocations" in out
    for module in load_truth(NAME)["modules"]:
        assert f"  {module['name']} " in out
    assert "No pool data" in out and "CrashDumpEnabled = 2" in out
    assert "HKLM\\SYSTEM\\CurrentControlSet\\Control\\CrashControl" in out
    (line,) = proc.stderr.splitlines()  # one warning: what the dump is, not a second about empty tags
    assert line.startswith(f"dumpscan: {DUMP}: warning: a small memory (triage) dump holds no physical memory"), line


def test_json_report_is_valid_and_fail_on_suspect_still_exits_0():
    proc = run("analyze", "-q", "--format", "json", "--fail-on-suspect", "-s", SYMBOLS, DUMP)
    assert proc.returncode == 0 and proc.stderr == ""
    report = json.loads(proc.stdout)
    jsonschema.validate(report, json_schema())
    assert report["dump"]["kind"] == "triage" and report["kernel"] is None
    assert report["leaks"]["suspects"] == [] and report["leaks"]["exit_status"] == 0


def test_a_triage_dump_without_its_signature_is_one_line_exit_2(tmp_path):
    size = DUMP.stat().st_size
    path = copy_with(tmp_path, [(size - 4, b"\0\0\0\0")], "nosig")
    proc = run("analyze", "-s", SYMBOLS, path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == [
        f"dumpscan: {path}: triage header: no 'DGRT' signature at ValidOffset 0x{size - 4:x} "
        "(found b'\\x00\\x00\\x00\\x00'); not a complete triage dump"]
    with pytest.raises(NotAKernelDump):
        analyze_path(path, [SYMBOLS])


@pytest.mark.parametrize("label, patches, expected", [
    ("count", [(TRIAGE + 0x34, struct.pack("<I", 0xFFFFFFFF))], "DriverCount 4294967295 is absurd"),
    ("pool", [(TRIAGE + 0x3C, struct.pack("<I", 0x7FFFFFFF))], "the string pool (0x7fffffff bytes"),
    ("blocks", [(TRIAGE + 0x7C, struct.pack("<I", 0x10000000))], "268435456 data blocks"),
])
def test_a_broken_table_is_a_warning_the_header_still_reads(tmp_path, label, patches, expected):
    path = copy_with(tmp_path, patches, label)
    report = analyze_path(path, [SYMBOLS])
    assert any(expected in w for w in report["warnings"]), report["warnings"]
    assert report["dump"]["bugcheck"]["code"] == 0xC4
    jsonschema.validate(report, json_schema())


def test_a_name_outside_the_string_pool_skips_that_entry_only(tmp_path):
    data = DUMP.read_bytes()
    second = u32(data, TRIAGE + 0x30) + (u32(data, TRIAGE + 0x38) - u32(data, TRIAGE + 0x30)) // u32(data, TRIAGE + 0x34)
    path = copy_with(tmp_path, [(second, struct.pack("<I", 0x10))], "name")
    triage = open_triage(path)
    names = [m["name"] for m in load_truth(NAME)["modules"]]
    assert [d.name for d in triage.drivers] == names[:1] + names[2:]
    assert triage.warnings == ["triage driver entry 1: DriverNameOffset 0x10 is no string of the string "
                               "pool; entry skipped"]


def test_truncated_inside_the_triage_header(tmp_path):
    path = copy_with(tmp_path, [], "short", size=TRIAGE + 0x40)
    proc = run("analyze", "-s", SYMBOLS, path)
    assert proc.returncode == 2
    assert proc.stderr.splitlines() == [f"dumpscan: {path}: truncated: the triage header at 0x2000 needs "
                                        f"0x80 bytes, the file is 0x{TRIAGE + 0x40:x} bytes"]


def test_x86_round_trip_without_a_known_entry_layout(tmp_path):
    """A 32-bit triage dump: TRIAGE_DUMP32 at 0x1000, DUMP_DRIVER_ENTRY32 (DllBase +0x1C,
    SizeOfImage +0x24); a loader-entry size with no known TimeDateStamp gives none."""
    def entry(base: int, size: int) -> bytes:
        return bytes(0x18) + struct.pack("<III", base, base + 0x1000, size) + bytes(0x4C - 0x24)

    drivers = (TriageDriverSpec("\\SystemRoot\\system32\\ntkrpamp.exe", entry(0x82A00000, 0x5C8000)),
               TriageDriverSpec("\\SystemRoot\\system32\\drivers\\myfault.sys", entry(0x98725000, 0x6000)))
    spec = DumpSpec(machine="x86", dump_type=4, bugcheck_code=0xD1, bugcheck_parameters=(1, 2, 0, 0x98726659),
                    dtb=0x185000, pae_enabled=True)
    path = tmp_path / "x86-triage.dmp"
    write_triage_dump(path, spec, TriageSpec(drivers, broken_driver=1))
    triage = open_triage(path)
    assert triage.header.bits == 32 and triage.header.bugcheck_parameters == (1, 2, 0, 0x98726659)
    assert [(d.name, d.base, d.size, d.timestamp) for d in triage.drivers] == [
        ("ntkrpamp.exe", 0x82A00000, 0x5C8000, None), ("myfault.sys", 0x98725000, 0x6000, None)]
    assert triage.broken_driver.name == "myfault.sys" and triage.warnings == []
    data = path.read_bytes()
    assert u32(data, 0xF88) == 4 and data[u32(data, 0x1008):u32(data, 0x1008) + 4] == b"TRGD"
