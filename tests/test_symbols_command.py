"""``dumpscan symbols``: the PDBs a dump needs (from the images' CodeView records) and
whether their tables are there; ``--import`` of a real PDB through Volatility's pdbconv;
``analyze``'s one-line note about driver tables that would name callers; the construct
based CodeView reader, checked against pefile.

testdata/pdb/leak.pdb and leak.sys are a real PDB and the PE image it belongs to, built
offline from testdata/pdb/leak.ll by LLVM 14 (Debian packages llvm-14, lld-14):
``llc-14 -filetype=obj leak.ll -o leak.obj`` then ``lld-link-14 /dll /debug /noentry
/nodefaultlib /export:PoolLeak /pdbaltpath:leak.pdb /out:leak.sys /pdb:leak.pdb leak.obj``.
"""
from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pefile
import pytest

from conftest import DUMPS, SYMBOLS, TESTDATA

from dumpscan.symbols.finder import find_symbol_table
from dumpscan.symbols.isf import SymbolTable
from dumpscan.symbols.pe import CodeViewError, PdbIdentity, read_codeview

PDB_DIR = TESTDATA / "pdb"
X86 = DUMPS / "win81-x86-verifier.dmp"  # every caller symbolized (myfault's table is bundled)
CONTOSO = DUMPS / "win10-x64-verifier-full.dmp"  # contoso.sys allocates; its table is not bundled


def dumpscan(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dumpscan", *map(str, args)], capture_output=True,
                          text=True, timeout=300)


def pefile_identity(image: pefile.PE) -> PdbIdentity:
    image.parse_data_directories([pefile.DIRECTORY_ENTRY["IMAGE_DIRECTORY_ENTRY_DEBUG"]])
    (entry,) = [d.entry for d in image.DIRECTORY_ENTRY_DEBUG if d.struct.Type == 2]
    return PdbIdentity(entry.PdbFileName.rstrip(b"\0").decode(), entry.Signature_String[:32], entry.Age)


def mapped_reader(image: pefile.PE, base: int):
    mapped = image.get_memory_mapped_image()
    return lambda va, n: mapped[va - base: va - base + n]


# -- the CodeView reader ---------------------------------------------------------------
def test_codeview_of_a_linked_image_matches_pefile():
    image = pefile.PE(str(PDB_DIR / "leak.sys"))
    found = read_codeview(mapped_reader(image, 0x10000), 0x10000)
    assert found == pefile_identity(image) == PdbIdentity("leak.pdb", found.guid, 1)


@pytest.mark.parametrize("data, problem", [(b"\0" * 0x1000, "no MZ header"),
                                           (b"MZ" + b"\0" * 0xFFE, "no PE header")])
def test_codeview_of_a_broken_image_is_one_error(data, problem):
    with pytest.raises(CodeViewError, match=problem):
        read_codeview(lambda va, n: data[va: va + n], 0)


def test_an_image_without_a_debug_directory_has_no_codeview():
    image = pefile.PE(str(PDB_DIR / "leak.sys"))
    image.OPTIONAL_HEADER.DATA_DIRECTORY[6].Size = 0
    stripped = pefile.PE(data=image.write(), fast_load=True)
    with pytest.raises(CodeViewError, match="no CodeView"):
        read_codeview(mapped_reader(stripped, 0), 0)


# -- dumpscan symbols DUMP -------------------------------------------------------------
def listing(*args) -> list[dict]:
    result = dumpscan("symbols", "--format", "json", *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("dump", [X86, CONTOSO])
def test_symbols_lists_every_image_with_pefile_identity_and_table(dump):
    from dumpscan.vol.open import open_kernel

    (needs,) = listing("-s", SYMBOLS, dump)
    truth = json.loads(dump.with_suffix("").with_suffix(".truth.json").read_text())
    assert [t["module"] for t in needs["tables"]] == [m["name"] for m in truth["modules"]]
    opened = open_kernel(dump, [SYMBOLS])
    try:
        for table in needs["tables"]:
            header_page = opened.view.read(table["base"], 0x1000)
            expected = pefile_identity(pefile.PE(data=header_page, fast_load=True))
            assert (table["pdb"], table["guid"], table["age"]) == (expected.name, expected.guid, expected.age)
            bundled = SYMBOLS / "windows" / expected.name / f"{expected.guid}-{expected.age}.json.xz"
            if bundled.exists():
                assert (table["status"], Path(table["table"]).resolve()) == ("found", bundled.resolve())
            else:
                assert table["status"] == "missing"
                assert table["table"] == str(SYMBOLS / "windows" / expected.name /
                                             f"{expected.guid}-{expected.age}.json.xz")
    finally:
        opened.close()
    assert needs["tables"][0]["pdb"] == truth["kernel"]["pdb"]
    assert {t["status"] for t in needs["tables"]} == {"found", "missing"}


def test_symbols_without_the_kernel_table_names_it_and_says_why_no_drivers(tmp_path):
    (needs,) = listing("-s", tmp_path, X86)
    (kernel,) = needs["tables"]
    assert (kernel["pdb"], kernel["guid"], kernel["status"]) == \
        ("ntkrpamp.pdb", "D5CA0000000000000000000000009600", "missing")
    assert kernel["table"] == str(tmp_path / "windows" / "ntkrpamp.pdb" /
                                  "D5CA0000000000000000000000009600-1.json.xz")
    assert "drivers are listed once the kernel's table is there" in needs["note"]


def test_symbols_text_and_csv_and_a_bad_dump(tmp_path):
    text = dumpscan("symbols", "-s", SYMBOLS, X86)
    assert text.returncode == 0
    assert "myfault.sys   myfault.pdb   5D1B0C4E7A2F4E8C9B3D6A1F0E2C4B86-1  found" in text.stdout
    assert "5 of 7 tables missing" in text.stdout
    csv_rows = dumpscan("symbols", "-s", SYMBOLS, "--format", "csv", X86).stdout.splitlines()
    assert csv_rows[0] == "dump,module,base,pdb,guid,age,status,table" and len(csv_rows) == 8
    bad = tmp_path / "bad.dmp"
    bad.write_bytes(b"PAGEDU64" + b"\0" * 100)
    result = dumpscan("symbols", "-s", SYMBOLS, bad)
    assert result.returncode == 2 and result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"dumpscan: {bad}: ")


# -- analyze's note --------------------------------------------------------------------
def test_analyze_notes_once_which_driver_tables_would_name_callers():
    one = dumpscan("analyze", "-s", SYMBOLS, CONTOSO)
    assert one.returncode == 0
    notes = [line for line in one.stderr.splitlines() if "note:" in line]
    assert notes == [f"dumpscan: {CONTOSO}: note: driver symbol tables would improve caller names: "
                     f"contoso.pdb 6BC2EC8CE5ECA5F46A2F812027AF4A29-1 (run `dumpscan symbols {CONTOSO}`)"]
    assert "contoso+0x" in one.stdout  # what the table would name
    many = dumpscan("analyze", "-s", SYMBOLS, CONTOSO, X86, DUMPS / "win11-x64-verifier-full.dmp")
    notes = [line for line in many.stderr.splitlines() if "note:" in line]
    assert notes == ["dumpscan: note: driver symbol tables would improve caller names in 2 of 3 dumps: "
                     "contoso.pdb 6BC2EC8CE5ECA5F46A2F812027AF4A29-1 (run `dumpscan symbols DUMP...`)"]
    assert "note:" not in dumpscan("analyze", "-s", SYMBOLS, X86).stderr  # every caller named
    assert "note:" not in dumpscan("analyze", "-q", "-s", SYMBOLS, CONTOSO).stderr


# -- dumpscan symbols --import FILE.pdb ------------------------------------------------
def test_import_converts_a_real_pdb_where_the_image_looks_for_it(tmp_path):
    result = dumpscan("symbols", "--import", PDB_DIR / "leak.pdb", "-s", tmp_path)
    assert result.returncode == 0, result.stderr
    image = pefile.PE(str(PDB_DIR / "leak.sys"))
    identity = read_codeview(mapped_reader(image, 0x10000), 0x10000)
    target = tmp_path / "windows" / "leak.pdb" / f"{identity.guid}-{identity.age}.json.xz"
    assert result.stdout == f"{PDB_DIR / 'leak.pdb'}: leak.pdb {identity.guid}-{identity.age} -> {target}\n"
    table = find_symbol_table(identity, [tmp_path])  # what analyze and vol look up
    assert Path(table.source) == target
    assert table.pdb == ("leak.pdb", identity.guid, identity.age)
    assert table.rva("PoolLeak") == 0x1000  # .text starts at RVA 0x1000; PoolLeak is first
    entry = table.layout("_LEAK_ENTRY")
    members = entry.members
    assert (entry.size, members["Next"].kind, members["Length"].offset, members["Tag"].offset) == \
        (24, "pointer", 16, 20)
    again = dumpscan("symbols", "--import", PDB_DIR / "leak.pdb", "-s", tmp_path)  # replaces, no leftovers
    assert again.returncode == 0 and [p.name for p in target.parent.iterdir()] == [target.name]
    assert SymbolTable.load(target).document["symbols"] == table.document["symbols"]


@pytest.mark.parametrize("make, problem", [
    (lambda d: d / "absent.pdb", "no such file"),
    (lambda d: d, "is a directory, not a PDB file"),
    (lambda d: (d / "notes.pdb").write_text("hello") and d / "notes.pdb", "not a PDB"),
    (lambda d: (d / "cut.pdb").write_bytes((PDB_DIR / "leak.pdb").read_bytes()[:0x1800]) and d / "cut.pdb",
     "Volatility's pdbconv cannot convert it"),
])
def test_import_errors_are_one_line_and_write_nothing(tmp_path, make, problem):
    source = tmp_path / "in"
    source.mkdir()
    pdb_file = make(source)
    out = tmp_path / "symbols"
    result = dumpscan("symbols", "--import", pdb_file, "-s", out)
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"dumpscan: {pdb_file}: ") and problem in line
    assert not out.exists() or not any(out.rglob("*.json.xz"))


def test_import_refuses_to_write_into_a_zip_pack(tmp_path):
    pack = tmp_path / "windows.zip"
    with zipfile.ZipFile(pack, "w") as archive:
        archive.writestr("windows/readme.txt", "x")
    result = dumpscan("symbols", "--import", PDB_DIR / "leak.pdb", "-s", pack)
    assert result.returncode == 2 and "not a zip pack: give -s DIR" in result.stderr
