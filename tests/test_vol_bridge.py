"""Tests of dumpscan.vol: the Volatility3 layer/stacker for every crash-dump type, the
header automagic, open_kernel and its one-line errors, and view_from_plugin.

The outside judge is unmodified Volatility3 run as ``vol -p plugins`` (offline, with a
temporary cache, never downloading symbols): its windows.bigpools rows must equal the
truth files of the bundled dumps, whatever their DumpType.  Broken inputs are tmp copies
of the bundled dumps; nothing under testdata is modified.
"""
from __future__ import annotations

import importlib.util
import json
import logging
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from dumpscan.dumpfile import DumpSpec, open_dump, write_dump
from dumpscan.dumpfile import headers as H
from dumpscan.kernel.view import MemoryAbsent
from dumpscan.vol.errors import (
    CodeViewUnreadable,
    DumpOpenError,
    KernelNotFound,
    NotAKernelDump,
    PageTableNotFound,
    SymbolsMismatch,
    SymbolsMissing,
)
from dumpscan.vol.open import open_kernel

ROOT = Path(__file__).resolve().parents[1]
DUMPS = ROOT / "testdata" / "dumps"
SYMBOLS = ROOT / "testdata" / "symbols"
PLUGINS = ROOT / "plugins"
PAGE = 0x1000
BUNDLED = sorted(p.stem for p in DUMPS.glob("*.dmp"))
LIVE = "win10-x64-live-kernel"  # DumpType 6
RDMP = "win10-x64-rdmp-kernel"  # DumpType 8
SDMP = "win10-x64-kernel-sdmp"  # DumpType 5 'SDMP'
X86 = "win81-x86-verifier"  # DumpType 1, 32-bit PAE
WIN7 = "win7-x64-poolhittag"  # DumpType 1, Va is a PVOID (masked to 48 bits by Volatility)
BIG = "win10-x64-verifier-bitmap"  # DumpType 5, survives losing its last pages


def truth(name: str) -> dict:
    return json.loads((DUMPS / f"{name}.truth.json").read_text())


def canonical64(va: int) -> int:
    return va | 0xFFFF000000000000 if va & (1 << 47) else va


def vol_tag(key: int) -> str:
    """A pool tag as Volatility renders it: only the bytes 0x21-0x7E."""
    return "".join(chr(b) for b in key.to_bytes(4, "little") if 0x20 < b < 0x7F)


def truth_bigpool(t: dict) -> list[tuple]:
    return sorted((row["va"], vol_tag(row["key"]), row["bytes"], "Free" if row["free"] else "Allocated")
                  for row in t["bigpool"])


def vol_bigpool(rows: list[dict], machine: str) -> list[tuple]:
    fix = canonical64 if machine == "x64" else (lambda v: v)
    return sorted((fix(r["Allocation"] & ~1), r["Tag"], r["NumberOfBytes"], r["Status"]) for r in rows)


def load_plugin_module():
    """Import plugins/dumpscan_formats.py by path, as Volatility does for -p plugins."""
    spec = importlib.util.spec_from_file_location("dumpscan_formats_under_test", PLUGINS / "dumpscan_formats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def one_line(text: str) -> bool:
    return "\n" not in text and text.strip() == text and text != ""


# ---------------------------------------------------------------------------------------
# vol as a subprocess
# ---------------------------------------------------------------------------------------
def vol_command() -> list[str]:
    script = Path(sys.executable).with_name("vol")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-c", "import sys; from volatility3.cli import main; sys.exit(main())"]


class Vol:
    def __init__(self, cache_template: Path, workdir: Path) -> None:
        self.template = cache_template
        self.workdir = workdir
        self.count = 0

    def __call__(self, dump: Path, plugin: str, *extra: str, symbols: Path = SYMBOLS,
                 fresh_cache: bool = False, renderer: str = "json") -> subprocess.CompletedProcess:
        self.count += 1
        cache = self.workdir / f"cache{self.count}"
        if fresh_cache or not self.template.exists():
            cache.mkdir()
        else:
            shutil.copytree(self.template, cache)
        cmd = vol_command() + ["-q", "-r", renderer, "--offline", "--cache-path", str(cache),
                               "-s", str(symbols), "-p", str(PLUGINS), "-f", str(dump), plugin, *extra]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT)


@pytest.fixture(scope="session")
def vol(tmp_path_factory):
    work = tmp_path_factory.mktemp("vol")
    template = work / "cache-template"
    runner = Vol(template, work)
    template.mkdir()
    warm = subprocess.run(vol_command() + ["-q", "--offline", "--cache-path", str(template), "-s", str(SYMBOLS),
                                           "-p", str(PLUGINS), "-f", str(DUMPS / f"{LIVE}.dmp"), "windows.info"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert warm.returncode == 0, warm.stderr
    return runner


def rows(proc: subprocess.CompletedProcess) -> list[dict]:
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def as_int(value) -> int:
    return value if isinstance(value, int) else int(value, 0)


def info(proc: subprocess.CompletedProcess) -> dict:
    return {row["Variable"]: row["Value"] for row in rows(proc)}


# ---------------------------------------------------------------------------------------
# Re-typed copies of the bundled dumps (DumpType 2, 9, 0xA; a 32-bit bitmap dump)
# ---------------------------------------------------------------------------------------
def retype(src: Path, dst: Path, dump_type: int) -> Path:
    """The same pages and header facts in another container type."""
    with open_dump(src) as d:
        h = d.header
        pfns = d.present_pfns().tolist()
        if dump_type == 2:
            head = bytearray(open(src, "rb").read(0x2000 if h.bits == 64 else 0x1000))
            con = H.DUMP_HEADER64 if h.bits == 64 else H.DUMP_HEADER32
            H.put(head, 0, con, "DumpType", 2)
            summary_con = H.SUMMARY_DUMP64 if h.bits == 64 else H.SUMMARY_DUMP32
            nbits = (pfns[-1] + 32) // 32 * 32
            bitmap = bytearray(nbits // 8)
            for pfn in pfns:
                bitmap[pfn >> 3] |= 1 << (pfn & 7)
            meta = summary_con.sizeof() + len(bitmap)
            first = len(head) + (meta + PAGE - 1) // PAGE * PAGE
            summary = summary_con.build(dict(
                Signature=b"SDMP", ValidDump=b"DUMP", DumpOptions=0, HeaderSize=first, BitmapSize=nbits,
                Pages=len(pfns), SizeOfBitMap=nbits, Reserved0=0)) + bytes(bitmap)
            with open(dst, "wb") as out:
                out.write(bytes(head) + summary.ljust(first - len(head), b"\0"))
                for pfn in pfns:
                    out.write(d.read_page(pfn))
            return dst
        spec = DumpSpec(
            machine=h.machine, dump_type=dump_type, minor_version=h.minor_version, dtb=h.dtb,
            pfn_database=h.pfn_database, ps_loaded_module_list=h.ps_loaded_module_list,
            ps_active_process_head=h.ps_active_process_head, number_processors=h.number_processors,
            bugcheck_code=h.bugcheck_code, bugcheck_parameters=h.bugcheck_parameters,
            kd_debugger_data_block=h.kd_debugger_data_block, pae_enabled=h.pae_enabled,
            physical_memory_runs=tuple((f, c) for f, c, _ in d.iter_runs()))
        write_dump(dst, spec, ((pfn, d.read_page(pfn)) for pfn in pfns))
    return dst


# ---------------------------------------------------------------------------------------
# vol -p plugins: every DumpType through unmodified Volatility
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [LIVE, RDMP, SDMP, X86, WIN7])
def test_vol_bigpools_equal_truth(vol, name):
    t = truth(name)
    got = vol_bigpool(rows(vol(DUMPS / f"{name}.dmp", "windows.bigpools", "--show-free")), t["dump"]["machine"])
    assert got == truth_bigpool(t)


@pytest.mark.parametrize("source,dump_type", [(LIVE, 9), (LIVE, 0xA), (LIVE, 2), (X86, 6), (X86, 2)])
def test_vol_reads_every_other_type(vol, tmp_path, source, dump_type):
    path = retype(DUMPS / f"{source}.dmp", tmp_path / f"{source}-type{dump_type}.dmp", dump_type)
    assert open_dump(path).header.dump_type == dump_type
    t = truth(source)
    got = vol_bigpool(rows(vol(path, "windows.bigpools", "--show-free")), t["dump"]["machine"])
    assert got == truth_bigpool(t)


@pytest.mark.parametrize("name,layer", [(LIVE, "WindowsIntel32e"), (RDMP, "WindowsIntel32e"),
                                        (X86, "WindowsIntelPAE"), (WIN7, "WindowsIntel32e")])
def test_vol_info_uses_our_layer_and_the_header(vol, name, layer):
    t = truth(name)
    values = info(vol(DUMPS / f"{name}.dmp", "windows.info"))
    base = t["kernel"]["base"]
    assert as_int(values["Kernel Base"]) == (base & ((1 << 48) - 1))
    assert as_int(values["DTB"]) == t["dump"]["dtb"]
    assert values["layer_name"].endswith(layer)
    assert values["memory_layer"].endswith("CrashDumpLayer")  # types 1/5 too: stack_order 9 < 11
    assert t["kernel"]["guid"] in values["Symbols"]


@pytest.mark.parametrize("name", [LIVE, RDMP])
def test_vol_modules_equal_truth(vol, name):
    t = truth(name)
    got = sorted((r["Name"], canonical64(r["Base"]), r["Size"]) for r in rows(vol(DUMPS / f"{name}.dmp", "windows.modules")))
    assert got == sorted((m["name"], m["base"], m["size"]) for m in t["modules"])


def test_vol_scans_when_the_header_is_blank(vol, tmp_path):
    """DTB and kernel pointers unset: Volatility's own DTB scan and KernelPDBScanner work over our layer."""
    path = copy(LIVE, tmp_path, "blank.dmp")
    for name in ("DirectoryTableBase", "KdDebuggerDataBlock", "PsLoadedModuleList"):
        patch(path, field64(name), b"PAGEPAGE")
    t = truth(LIVE)
    proc = vol(path, "windows.info")
    values = info(proc)
    assert "DirectoryTableBase is not set" in proc.stderr
    assert values["memory_layer"].endswith("CrashDumpLayer")
    assert as_int(values["DTB"]) == t["dump"]["dtb"]
    assert as_int(values["Kernel Base"]) == t["kernel"]["base"] & ((1 << 48) - 1)


def test_vol_says_why_it_cannot_read_a_dump(vol, tmp_path):
    path = copy(LIVE, tmp_path, "type3.dmp")
    patch(path, field64("DumpType"), struct.pack("<I", 3))
    proc = vol(path, "windows.info", renderer="quick")
    assert proc.returncode != 0
    assert f"{path}: unsupported DumpType: header-only dump (3)" in proc.stderr


def test_vol_names_the_missing_symbol_table(vol, tmp_path):
    empty = tmp_path / "nosymbols"
    empty.mkdir()
    k = truth(RDMP)["kernel"]
    proc = vol(DUMPS / f"{RDMP}.dmp", "windows.info", symbols=empty, fresh_cache=True, renderer="quick")
    assert proc.returncode != 0
    assert f"no symbol table for {k['pdb']} GUID {k['guid']} age {k['age']}" in proc.stderr
    assert f"windows/{k['pdb']}/{k['guid']}-{k['age']}.json.xz" in proc.stderr


# ---------------------------------------------------------------------------------------
# The layer and the stacker, in process
# ---------------------------------------------------------------------------------------
def file_context(path: Path):
    from volatility3.framework import contexts
    from volatility3.framework.layers import physical

    context = contexts.Context()
    context.config["file.location"] = path.resolve().as_uri()
    context.add_layer(physical.FileLayer(context, "file", "file"))
    return context


def test_layer_from_config_alone_and_absent_is_not_zero(tmp_path):
    from volatility3.framework import exceptions

    from dumpscan.vol.layer import CrashDumpLayer

    path = copy(BIG, tmp_path, "cut.dmp")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 3 * PAGE)
    context = file_context(path)
    context.config["mem.base_layer"] = "file"
    layer = CrashDumpLayer(context, "mem", "mem")
    context.add_layer(layer)
    dump = layer.dump
    assert dump.pages_missing == 3 and any("truncated" in w for w in dump.warnings)
    runs = list(dump.iter_runs())
    assert [(s, m, n) for s, m, n, _ in layer._segments] == [(f * PAGE, o, c * PAGE) for f, c, o in runs]
    first, count, _ = runs[0]
    assert layer.read(first * PAGE, PAGE) == dump.read_page(first)
    absent = (first + count) * PAGE  # the page after the first run
    with pytest.raises(exceptions.InvalidAddressException):
        layer.read(absent, 8)
    assert not layer.is_valid(absent)
    assert layer.read(absent, 8, pad=True) == bytes(8)  # only when the caller asks for padding
    assert dict(layer.metadata)["os"] == "Windows" and layer.metadata["architecture"] == "Intel64"
    assert "page_map_offset" not in layer.metadata
    config = layer.build_configuration()
    assert config["class"] == "dumpscan.vol.layer.CrashDumpLayer"
    assert config["base_layer.location"] == path.resolve().as_uri()


def test_stacker_is_discovered_before_volatility_and_publishes_the_dtb():
    from volatility3 import framework
    from volatility3.framework import interfaces
    from volatility3.framework.layers import crash

    load_plugin_module()  # what vol -p plugins imports
    from dumpscan.vol.stacker import DumpscanCrashDumpStacker

    stackers = sorted(framework.class_subclasses(interfaces.automagic.StackerLayerInterface),
                      key=lambda s: s.stack_order)
    assert stackers.index(DumpscanCrashDumpStacker) < stackers.index(crash.WindowsCrashDumpStacker)

    for name, pae in ((LIVE, None), (X86, True)):
        context = file_context(DUMPS / f"{name}.dmp")
        layer = DumpscanCrashDumpStacker.stack(context, "file")
        assert layer.metadata["page_map_offset"] == truth(name)["dump"]["dtb"]
        assert layer.metadata.get("pae") == pae
    assert DumpscanCrashDumpStacker.stack(file_context(DUMPS / f"{LIVE}.truth.json"), "file") is None


# ---------------------------------------------------------------------------------------
# open_kernel: header-driven, every bundled dump
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", BUNDLED)
def test_open_kernel_matches_truth(name):
    t = truth(name)
    opened = open_kernel(DUMPS / f"{name}.dmp", [SYMBOLS])
    try:
        assert opened.warnings == []
        assert opened.kernel_base == opened.view.kernel_base == t["kernel"]["base"]
        assert (opened.pdb.name, opened.pdb.guid, opened.pdb.age) == (
            t["kernel"]["pdb"], t["kernel"]["guid"], t["kernel"]["age"])
        assert opened.dtb == t["dump"]["dtb"]
        assert opened.view.read(opened.kernel_base, 2) == b"MZ"
    finally:
        opened.close()


# ---------------------------------------------------------------------------------------
# open_kernel: bad input gives one line, never a traceback
# ---------------------------------------------------------------------------------------
def copy(name: str, tmp_path: Path, new: str) -> Path:
    path = tmp_path / new
    shutil.copyfile(DUMPS / f"{name}.dmp", path)
    return path


def patch(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def field64(name: str) -> int:
    return H.offset_of(H.DUMP_HEADER64, name)


def expect(error_type, path, symbols=(SYMBOLS,), **kw) -> DumpOpenError:
    with pytest.raises(error_type) as info:
        open_kernel(path, list(symbols), **kw)
    text = str(info.value)
    assert one_line(text), text
    assert text.startswith(f"{path}: ")
    assert isinstance(info.value, DumpOpenError)
    return info.value


def kernel_file_offset(name: str, va_of) -> int:
    """File offset of the byte at a kernel VA (va_of(opened) -> VA) in a bundled dump."""
    opened = open_kernel(DUMPS / f"{name}.dmp", [SYMBOLS])
    try:
        layer = opened.context.layers[opened.layer_name]
        physical = layer.translate(va_of(opened) & layer.address_mask)[0]
        return opened.dump.file_offset(physical >> 12) + (physical & 0xFFF)
    finally:
        opened.close()


def test_not_a_dump(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\n" * 2000)
    assert "not a Windows kernel crash dump" in str(expect(NotAKernelDump, path))
    expect(NotAKernelDump, tmp_path / "missing.dmp")
    zeroed = copy(LIVE, tmp_path, "zeroed.dmp")
    patch(zeroed, 0, bytes(0x2000))
    assert "not a Windows kernel crash dump" in str(expect(NotAKernelDump, zeroed))


def test_dump_without_pages(tmp_path):
    path = tmp_path / "empty.dmp"
    write_dump(path, DumpSpec(dump_type=5, bitmap_pages=64, dtb=0x1000), [])
    assert "holds no pages" in str(expect(NotAKernelDump, path))


def test_unsupported_dump_type(tmp_path):
    path = copy(LIVE, tmp_path, "type3.dmp")
    patch(path, field64("DumpType"), struct.pack("<I", 3))
    assert "unsupported DumpType: header-only dump (3)" in str(expect(NotAKernelDump, path))


def test_truncated_dump_warns_and_opens_partially(tmp_path, caplog):
    path = copy(BIG, tmp_path, "cut.dmp")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size - 16 * PAGE)
    with caplog.at_level(logging.WARNING, logger="dumpscan.vol"):
        opened = open_kernel(path, [SYMBOLS])
    try:
        assert opened.kernel_base == truth(BIG)["kernel"]["base"]
        assert any("truncated: 16 of" in w for w in opened.warnings)
        assert any("truncated" in r.getMessage() for r in caplog.records)
    finally:
        opened.close()


def test_truncated_beyond_the_page_tables(tmp_path):
    path = copy(LIVE, tmp_path, "cut.dmp")
    with open(path, "r+b") as f:
        f.truncate(path.stat().st_size // 2 // PAGE * PAGE)
    text = str(expect(PageTableNotFound, path))
    assert "is a page not in the dump" in text and "the dump is truncated" in text
    with open(path, "r+b") as f:
        f.truncate(0x2100)
    assert "truncated" in str(expect(NotAKernelDump, path))


def test_dtb_unset_or_wrong_falls_back_to_volatility_scan(tmp_path):
    t = truth(LIVE)
    unset = copy(LIVE, tmp_path, "nodtb.dmp")
    patch(unset, field64("DirectoryTableBase"), b"PAGEPAGE")
    wrong = copy(LIVE, tmp_path, "baddtb.dmp")
    patch(wrong, field64("DirectoryTableBase"), struct.pack("<Q", 0x1000))
    for path, why in ((unset, "DirectoryTableBase is not set"), (wrong, "0x1000 fails the KUSER_SHARED_DATA")):
        opened = open_kernel(path, [SYMBOLS])
        assert opened.dtb == t["dump"]["dtb"] and opened.kernel_base == t["kernel"]["base"]
        assert len(opened.warnings) == 1 and why in opened.warnings[0] and "scan" in opened.warnings[0]
        opened.close()
    # the user's override wins, silently when it checks out
    opened = open_kernel(wrong, [SYMBOLS], dtb=t["dump"]["dtb"])
    assert opened.dtb == t["dump"]["dtb"] and opened.warnings == []
    opened.close()


def test_no_page_table_anywhere(tmp_path):
    path = copy(LIVE, tmp_path, "nodtb.dmp")
    patch(path, field64("DirectoryTableBase"), b"PAGEPAGE")
    dtb_offset = open_dump(DUMPS / f"{LIVE}.dmp").file_offset(truth(LIVE)["dump"]["dtb"] >> 12)
    patch(path, dtb_offset, bytes(PAGE))  # the PML4 page: no self-reference left to find
    text = str(expect(PageTableNotFound, path))
    assert "DirectoryTableBase is not set in the header" in text and "(--dtb ADDR)" in text


def test_header_kernel_pointers_lie(tmp_path):
    t = truth(LIVE)
    path = copy(LIVE, tmp_path, "lies.dmp")
    patch(path, field64("KdDebuggerDataBlock"), struct.pack("<Q", 0xFFFFF80000001000))
    patch(path, field64("PsLoadedModuleList"), b"PAGEPAGE")
    opened = open_kernel(path, [SYMBOLS])  # Volatility's KernelPDBScanner finds it
    assert opened.kernel_base == t["kernel"]["base"]
    assert any("header leads to no kernel image" in w for w in opened.warnings)
    opened.close()
    opened = open_kernel(path, [SYMBOLS], kernel_base=t["kernel"]["base"])
    assert opened.kernel_base == t["kernel"]["base"]
    assert not any("no kernel image" in w for w in opened.warnings)
    opened.close()
    text = str(expect(KernelNotFound, path, kernel_base=t["kernel"]["base"] + 0x1000))
    assert "the given kernel base" in text


def test_kernel_not_found(tmp_path):
    path = copy(LIVE, tmp_path, "nokernel.dmp")
    patch(path, field64("KdDebuggerDataBlock"), b"PAGEPAGE")
    patch(path, field64("PsLoadedModuleList"), b"PAGEPAGE")
    patch(path, kernel_file_offset(LIVE, lambda o: o.kernel_base), b"ZZ")
    text = str(expect(KernelNotFound, path))
    assert "KdDebuggerDataBlock not set, PsLoadedModuleList not set" in text and "(--kernel-base ADDR)" in text


def test_codeview_unreadable(tmp_path):
    def rsds(opened):
        view, base = opened.view, opened.kernel_base
        optional = base + struct.unpack("<I", view.read(base + 0x3C, 4))[0] + 24
        directory = struct.unpack("<I", view.read(optional + 0xA0, 4))[0]
        return base + struct.unpack("<I", view.read(base + directory + 20, 4))[0]

    path = copy(LIVE, tmp_path, "nocv.dmp")
    offset = kernel_file_offset(LIVE, rsds)
    assert path.read_bytes()[offset:offset + 4] == b"RSDS"
    patch(path, offset, b"XXXX")
    assert "no CodeView (RSDS) debug record" in str(expect(CodeViewUnreadable, path))


def test_missing_symbols_names_pdb_guid_age_and_where(tmp_path):
    k = truth(RDMP)["kernel"]
    empty = tmp_path / "symbols"
    empty.mkdir()
    error = expect(SymbolsMissing, DUMPS / f"{RDMP}.dmp", symbols=[empty])
    expected = empty / "windows" / k["pdb"] / f"{k['guid']}-{k['age']}.json.xz"
    assert f"no symbol table for {k['pdb']} GUID {k['guid']} age {k['age']}" in str(error)
    assert f"put its ISF at {expected}" in str(error)
    assert error.expected == expected and (error.pdb.name, error.pdb.guid, error.pdb.age) == (
        k["pdb"], k["guid"], k["age"])


def test_symbol_table_with_another_guid(tmp_path):
    k = truth(LIVE)["kernel"]
    other = next(p for p in (SYMBOLS / "windows" / k["pdb"]).glob("*.json.xz") if k["guid"] not in p.name)
    folder = tmp_path / "symbols" / "windows" / k["pdb"]
    folder.mkdir(parents=True)
    shutil.copyfile(other, folder / f"{k['guid']}-{k['age']}.json.xz")
    text = str(expect(SymbolsMismatch, DUMPS / f"{LIVE}.dmp", symbols=[tmp_path / "symbols"]))
    assert f"not {k['guid']} age {k['age']}" in text and other.name.split("-")[0] in text


def readable(view, va: int) -> bool:
    try:
        view.read(va, 1)
        return True
    except MemoryAbsent:
        return False


# ---------------------------------------------------------------------------------------
# view_from_plugin: a KernelView from a Volatility plugin's context
# ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", [RDMP, X86])
def test_view_from_plugin(name, tmp_path, monkeypatch):
    import volatility3.symbols
    from volatility3 import framework
    from volatility3.framework import automagic, constants, contexts, interfaces
    from volatility3.framework import plugins as vol_plugins
    from volatility3.framework.configuration import requirements

    load_plugin_module()
    from dumpscan.vol.plugin import view_from_plugin

    monkeypatch.setattr(volatility3.symbols, "__path__", [str(SYMBOLS)] + list(volatility3.symbols.__path__))
    monkeypatch.setattr(constants, "CACHE_PATH", str(tmp_path))
    monkeypatch.setattr(constants, "OFFLINE", True)

    class KernelOnly(interfaces.plugins.PluginInterface):
        _required_framework_version = (2, 0, 0)

        @classmethod
        def get_requirements(cls):
            return [requirements.ModuleRequirement(name="kernel", architectures=["Intel32", "Intel64"])]

        def run(self):  # pragma: no cover - never run
            return None

    context = contexts.Context()
    context.config["automagic.LayerStacker.single_location"] = (DUMPS / f"{name}.dmp").as_uri()
    context.config["automagic.LayerStacker.stackers"] = [
        s.__name__ for s in framework.class_subclasses(interfaces.automagic.StackerLayerInterface)
        if "windows" not in s.exclusion_list]
    magics = [m for m in automagic.available(context) if "windows" not in m.exclusion_list]
    plugin = vol_plugins.construct_plugin(context, magics, KernelOnly, "plugins", None, None)
    view = view_from_plugin(context, plugin.config["kernel"])

    t = truth(name)
    assert view.kernel_base == t["kernel"]["base"]
    assert view.symbols.pdb[1:] == (t["kernel"]["guid"], t["kernel"]["age"])
    opened = open_kernel(DUMPS / f"{name}.dmp", [SYMBOLS])
    try:
        for symbol in ("PoolBigPageTable", "PoolBigPageTableSize", "PsLoadedModuleList"):
            address = view.symbol(symbol)
            assert address == opened.view.symbol(symbol)
            assert view.read(address, view.pointer_size) == opened.view.read(address, view.pointer_size)
        table = view.read_pointer(view.symbol("PoolBigPageTable"))
        assert view.read(table, 0x40) == opened.view.read(table, 0x40)
        absent = next(va for va in range(view.kernel_base, view.kernel_base + (64 << 20), PAGE)
                      if not readable(opened.view, va))
        with pytest.raises(MemoryAbsent):
            view.read(absent, 8)
    finally:
        opened.close()
    assert view_from_plugin(context, plugin.config["kernel"]).symbols is view.symbols  # cached per URL


def test_layer_pickles_for_volatility_multiprocessing():
    import pickle

    from dumpscan.vol.layer import CrashDumpLayer

    context = file_context(DUMPS / f"{RDMP}.dmp")
    context.config["mem.base_layer"] = "file"
    context.add_layer(CrashDumpLayer(context, "mem", "mem"))
    clone = pickle.loads(pickle.dumps(context))
    first, _, _ = next(clone.layers["mem"].dump.iter_runs())
    assert clone.layers["mem"].read(first * PAGE, PAGE) == context.layers["mem"].read(first * PAGE, PAGE)
