"""Symbol tables wherever Volatility reads them: directories of .json/.json.xz/.json.gz/
.json.bz2 files, zip packs (Volatility's windows.zip: windows/<pdb>/<GUID>-<age>.json.xz)
in a symbol directory or given directly, and the ``jar:file:<zip>!<member>`` URLs
Volatility hands the plugins. The CLI and ``vol -p plugins`` give the same output with
each as with the plain directory; packs are built at test time from testdata/symbols."""
from __future__ import annotations

import bz2
import gzip
import json
import lzma
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import DUMPS, SYMBOLS, run_vol

from dumpscan.symbols.finder import MissingSymbols, expected_location, find_symbol_table, locate_symbol_table
from dumpscan.symbols.isf import SymbolTable, SymbolTableError
from dumpscan.symbols.pe import PdbIdentity
from dumpscan.symbols.sources import jar_url

X86 = DUMPS / "win81-x86-verifier.dmp"  # its myfault.pdb table names PoolLeak
TABLES = sorted(SYMBOLS.glob("windows/*/*.json.xz"))


def identity(table: Path) -> PdbIdentity:
    guid, age = table.name[: -len(".json.xz")].rsplit("-", 1)
    return PdbIdentity(table.parent.name, guid, int(age))


def build_pack(path: Path, prefix: str = "") -> Path:
    """A zip pack of testdata/symbols laid out as Volatility distributes windows.zip."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as pack:
        for table in TABLES:
            pack.write(table, prefix + table.relative_to(SYMBOLS).as_posix())
    return path


def recompressed(root: Path, suffix: str) -> Path:
    """testdata/symbols with every table stored as .json<suffix> instead of .json.xz."""
    write = {".json": lambda b: b, ".json.gz": gzip.compress, ".json.bz2": bz2.compress}[suffix]
    for table in TABLES:
        target = root / table.relative_to(SYMBOLS).parent / (table.name[: -len(".json.xz")] + suffix)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(write(lzma.decompress(table.read_bytes())))
    return root


@pytest.fixture(scope="module")
def locations(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("symbol-locations")
    return {
        # a space and a percent-escape lookalike: jar: paths are literal, as Volatility writes them
        "pack in a directory": build_pack(root / "pack dir%20" / "windows.zip").parent,
        "pack given directly": build_pack(root / "direct" / "windows.zip"),
        ".json.gz": recompressed(root / "gz", ".json.gz"),
        ".json.bz2": recompressed(root / "bz2", ".json.bz2"),
        ".json": recompressed(root / "plain", ".json"),
    }


# -- reading and finding ----------------------------------------------------------------
def test_every_form_of_a_table_reads_the_same_document(locations):
    table = TABLES[0]
    pdb = identity(table)
    expected = SymbolTable.load(table).document
    for name, location in locations.items():
        found = locate_symbol_table(pdb, [location])
        assert found is not None, name
        assert SymbolTable.load(found).document == expected, name
    url = jar_url(locations["pack given directly"], table.relative_to(SYMBOLS).as_posix())
    assert locate_symbol_table(pdb, [locations["pack given directly"]]) == url
    assert SymbolTable.load(url).source == url


def test_a_pack_member_is_found_under_any_prefix_and_pdb_name_case(tmp_path):
    build_pack(tmp_path / "symbols.zip", prefix="volatility3/symbols/")
    table = TABLES[0]
    pdb = identity(table)
    shouted = PdbIdentity(pdb.name.upper(), pdb.guid, pdb.age)
    assert find_symbol_table(shouted, [tmp_path]).document == SymbolTable.load(table).document
    with pytest.raises(MissingSymbols):
        find_symbol_table(PdbIdentity(pdb.name, pdb.guid, pdb.age + 1), [tmp_path])


def test_the_missing_table_goes_to_the_first_directory_not_into_a_pack(tmp_path, locations):
    pdb = PdbIdentity("myfault.pdb", "0" * 32, 1)
    where = expected_location(pdb, [locations["pack given directly"], tmp_path])
    assert where == tmp_path / "windows" / "myfault.pdb" / f"{'0' * 32}-1.json.xz"
    with pytest.raises(MissingSymbols, match=str(where)):
        find_symbol_table(pdb, [locations["pack given directly"], tmp_path])


@pytest.mark.parametrize("content, problem", [(b"\xfd7zXZ\x00garbage", "corrupt compressed data"),
                                              (b"{not json", "Expecting property name"),
                                              (b"PK\x03\x04 not a zip", "not a readable zip")])
def test_an_unreadable_table_or_pack_is_one_line(tmp_path, content, problem):
    if content.startswith(b"PK"):
        bad = tmp_path / "windows.zip"
        bad.write_bytes(content)
        location = f"jar:file:{bad}!windows/x.pdb/{'0' * 32}-1.json.xz"
    else:
        bad = tmp_path / "t.json.xz"
        bad.write_bytes(content)
        location = str(bad)
    with pytest.raises(SymbolTableError) as raised:
        SymbolTable.load(location)
    assert problem in str(raised.value) and "\n" not in str(raised.value)


def test_a_member_missing_from_a_pack_is_one_line(locations):
    location = jar_url(locations["pack given directly"], "windows/x.pdb/" + "0" * 32 + "-1.json.xz")
    with pytest.raises(SymbolTableError, match="holds no windows/x.pdb/"):
        SymbolTable.load(location)


# -- the CLI ---------------------------------------------------------------------------
def dumpscan(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dumpscan", *args], capture_output=True, text=True,
                          timeout=300, cwd=cwd)


def without_symbol_source(text: str) -> list[str]:
    return [line for line in text.splitlines() if not line.startswith("Symbol table")]


@pytest.fixture(scope="module")
def directory_report() -> str:
    result = dumpscan("analyze", "-s", str(SYMBOLS), str(X86))
    assert result.returncode == 0, result.stderr
    assert "myfault!PoolLeak+0x21" in result.stdout  # the driver's table is used
    return result.stdout


@pytest.mark.parametrize("form", ["pack in a directory", "pack given directly", ".json.gz", ".json.bz2",
                                  ".json"])
def test_cli_reads_every_form_as_the_directory(form, locations, directory_report):
    result = dumpscan("analyze", "-s", str(locations[form]), str(X86))
    assert result.returncode == 0, result.stderr
    assert without_symbol_source(result.stdout) == without_symbol_source(directory_report)
    source = next(line for line in result.stdout.splitlines() if line.startswith("Symbol table"))
    assert ("jar:file:" in source) is form.startswith("pack")


def test_cli_refuses_a_symbol_location_that_is_neither_directory_nor_pack(tmp_path):
    not_a_pack = tmp_path / "notes.txt"
    not_a_pack.write_text("hello")
    result = dumpscan("analyze", "-s", str(not_a_pack), str(X86))
    assert result.returncode == 2
    assert "is a file, not a symbol directory or a zip symbol pack" in result.stderr
    assert "Traceback" not in result.stderr


# -- vol -p plugins --------------------------------------------------------------------
@pytest.fixture(scope="module")
def directory_grid(vol_cache) -> list[dict]:
    result = run_vol(X86, "windows.poolleak", plugins=True, cache=vol_cache)
    assert result.returncode == 0, result.stderr[-2000:]
    return json.loads(result.stdout)


@pytest.mark.parametrize("form", ["pack in a directory", ".json.gz", ".json.bz2"])
def test_plugins_read_every_form_as_the_directory(form, locations, directory_grid, tmp_path):
    # a fresh cache: Volatility indexes this location alone, so the kernel's table (and
    # the driver tables the plugin looks up) come from it, e.g. as jar:file: URLs
    result = run_vol(X86, "windows.poolleak", symbols=[locations[form]], plugins=True, cache=tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "cannot read symbol table" not in result.stderr
    grid = json.loads(result.stdout)
    assert grid == directory_grid
    assert any(row["CallerSymbol"] == "myfault!PoolLeak+0x21" for row in grid)


@pytest.mark.parametrize("compress", [lambda b: lzma.compress(b), gzip.compress, bz2.compress])
def test_a_truncated_compressed_table_is_corrupt_not_short_json(tmp_path, compress):
    packed = compress(lzma.decompress(TABLES[0].read_bytes()))
    cut = tmp_path / "cut.json.xz"  # the name does not matter: the magic bytes do
    cut.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(SymbolTableError, match="corrupt compressed data"):
        SymbolTable.load(cut)
