"""The three real-symbol platforms against the real Volatility3 ISFs they were taken from.

Needs ``../shared/isf`` next to the project checkout (not shipped with the project);
the whole module is skipped when it is absent. The ISF type descriptors are translated
to the compact notation here, independently of tools/extract_platform.py.
"""
from __future__ import annotations

import bisect
import json
import lzma
from functools import lru_cache
from pathlib import Path

import pytest

from dumpscan.synth.platforms import PLATFORMS, Platform

ISF_ROOT = Path(__file__).resolve().parents[2] / "shared" / "isf"
if not ISF_ROOT.is_dir():
    pytest.skip(f"real ISFs not available at {ISF_ROOT}", allow_module_level=True)

REAL = ["win7-x64", "win10-x64", "win11-x64"]

# notation base name -> the ISF base names it stands for ("int" is spelled i32)
BASES = {
    "u8": {"unsigned char"}, "u16": {"unsigned short"}, "u32": {"unsigned long", "unsigned int"},
    "u64": {"unsigned long long"}, "i8": {"char"}, "i16": {"short"}, "i32": {"long", "int"},
    "i64": {"long long"}, "wchar": {"wchar"}, "void": {"void"},
}
ISF_TO_NOTATION = {isf: n for n, names in BASES.items() for isf in names}


def load_isf(p: Platform) -> dict:
    path = ISF_ROOT / "windows" / p.pdb_name / f"{p.guid}-{p.age}.json.xz"
    assert path.is_file(), f"no ISF for {p.name} at {path}"
    return _load(str(path))


@lru_cache(maxsize=None)
def _load(path: str) -> dict:
    with lzma.open(path, "rt") as handle:
        return json.load(handle)


def isf_notation(t: dict, user_types: dict) -> str:
    kind = t["kind"]
    if kind == "base":
        return ISF_TO_NOTATION[t["name"]]
    if kind in ("struct", "union", "class"):
        return t["name"]
    if kind == "enum":
        return "enum:" + t["name"]
    if kind == "array":
        return f"{isf_notation(t['subtype'], user_types)}[{t['count']}]"
    if kind == "bitfield":
        return (f"{isf_notation(t['type'], user_types)}"
                f"{{{t['bit_position']}:{t['bit_length']}}}")
    if kind == "pointer":
        sub = t["subtype"]
        if sub["kind"] == "function" or (sub["kind"] == "base" and sub["name"] == "void"):
            return "ptr"
        if sub["kind"] in ("struct", "union", "class") and sub["name"] not in user_types:
            return "ptr"  # pointer to a type the ISF names but does not define
        return "ptr:" + isf_notation(sub, user_types)
    raise AssertionError(f"unexpected ISF type kind {kind}")


def params():
    return [pytest.param(PLATFORMS[n], id=n) for n in REAL]


@pytest.mark.parametrize("p", params())
def test_identity_matches_isf(p: Platform):
    assert p.real_symbols
    pdb = load_isf(p)["metadata"]["windows"]["pdb"]
    assert pdb["GUID"] == p.guid and pdb["age"] == p.age and pdb["database"] == p.pdb_name
    assert load_isf(p)["base_types"]["pointer"]["size"] == p.pointer_size


@pytest.mark.parametrize("p", params())
def test_types_match_isf(p: Platform):
    user = load_isf(p)["user_types"]
    for tname, struct in p.types.items():
        assert tname in user, f"{p.name}: {tname} not in the ISF"
        real = user[tname]
        assert real["size"] == struct.size, f"{p.name}: sizeof {tname}"
        assert real["kind"] == struct.kind, f"{p.name}: kind of {tname}"
        for fname, (offset, notation) in struct.fields.items():
            assert fname in real["fields"], f"{p.name}: {tname}.{fname} not in the ISF"
            rf = real["fields"][fname]
            assert rf["offset"] == offset, f"{p.name}: {tname}.{fname} offset"
            assert isf_notation(rf["type"], user) == notation, f"{p.name}: {tname}.{fname} type"


@pytest.mark.parametrize("p", params())
def test_enums_match_isf(p: Platform):
    enums = load_isf(p)["enums"]
    for name, enum in p.enums.items():
        real = enums[name]
        assert real["base"] in BASES[enum.base], name
        assert real["constants"] == enum.constants, name


@pytest.mark.parametrize("p", params())
def test_symbols_match_isf(p: Platform):
    syms = load_isf(p)["symbols"]
    for name, rva in p.symbols.items():
        assert name in syms, f"{p.name}: {name} not in the ISF"
        assert syms[name]["address"] == rva, name


@pytest.mark.parametrize("p", params())
def test_functions_match_isf(p: Platform):
    syms = load_isf(p)["symbols"]
    addresses = sorted({s["address"] for s in syms.values()})
    for name, fn in p.functions.items():
        assert name in syms, f"{p.name}: {name} not in the ISF"
        assert syms[name]["address"] == fn.rva, name
        following = addresses[bisect.bisect_right(addresses, fn.rva)]
        assert fn.extent == following - fn.rva, name


@pytest.mark.parametrize("p", params())
def test_spacing_facts_match_isf(p: Platform):
    syms = load_isf(p)["symbols"]
    addresses = sorted({s["address"] for s in syms.values()})

    def gap(name):
        rva = syms[name]["address"]
        return addresses[bisect.bisect_right(addresses, rva)] - rva

    assert gap("ExPoolTagTables") == p.tag_table_slots * p.pointer_size
    assert gap("KdDebuggerDataBlock") >= p.kdbg_size
    assert max(addresses) < p.kernel_image_size
