"""Internal consistency of every platform layout table (no external data needed).

The notation is parsed here independently of the factory's packer, so a mistake in one
does not hide a mistake in the other.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import pytest

from dumpscan.synth.platforms import PLATFORMS, Platform, get_platform

BASE_SIZES = {
    "u8": 1, "u16": 2, "u32": 4, "u64": 8, "i8": 1, "i16": 2, "i32": 4, "i64": 8,
    "wchar": 2, "void": 0,
}
ARRAY = re.compile(r"^(?P<elem>.+)\[(?P<count>\d+)\]$")
BITFIELD = re.compile(r"^(?P<base>[ui](?:8|16|32|64))\{(?P<pos>\d+):(?P<len>\d+)\}$")

EXPECTED_NAMES = {"win7-x64", "win81-x86", "win10-x64", "win11-x64", "win11-24h2-x64"}
REAL = {"win7-x64", "win10-x64", "win11-x64"}

VOLATILITY_REQUIRED = (
    "_ETHREAD _KTHREAD _LIST_ENTRY _EPROCESS _ERESOURCE _UNICODE_STRING _EX_FAST_REF _TOKEN "
    "_OBJECT_HEADER _FILE_OBJECT _DEVICE_OBJECT _CM_KEY_BODY _CMHIVE _CM_KEY_NODE _CM_KEY_VALUE "
    "_HMAP_ENTRY _MMVAD_SHORT _MMVAD _KSYSTEM_TIME _KMUTANT _DRIVER_OBJECT _OBJECT_SYMBOLIC_LINK "
    "_CONTROL_AREA _SHARED_CACHE_MAP _VACB _POOL_TRACKER_BIG_PAGES _IMAGE_DOS_HEADER _KTIMER "
    "_LDR_DATA_TABLE_ENTRY"
).split()
FACTORY_TYPES = (
    "_KUSER_SHARED_DATA _DBGKD_GET_VERSION64 _POOL_TRACKER_TABLE _POOL_HEADER "
    "_MM_DRIVER_VERIFIER_DATA _VF_SUSPECT_DRIVER_ENTRY _VF_AVL_TREE _VF_AVL_TABLE _RTL_AVL_TABLE "
    "_RTL_BALANCED_LINKS _VF_AVL_TREE_NODE _VF_TARGET_DRIVER _VF_TARGET_VERIFIED_DRIVER_DATA "
    "_VI_POOL_PAGE_HEADER _VI_POOL_ENTRY_INUSE _VI_POOL_ENTRY _VF_POOL_TRACE _SLIST_HEADER"
).split()
ENUMS = ("_POOL_TYPE", "_NT_PRODUCT_TYPE")

# Fields the factory and readers rely on, per type (any of the alternatives).
REQUIRED_FIELDS = {
    "_POOL_TRACKER_BIG_PAGES": ["Va", "Key", "NumberOfBytes", ("PoolType", "PoolFlags")],
    "_POOL_TRACKER_TABLE": ["Key", "NonPagedAllocs", "NonPagedFrees", "NonPagedBytes",
                            "PagedAllocs", "PagedFrees", "PagedBytes"],
    "_POOL_HEADER": ["PreviousSize", "PoolIndex", "BlockSize", "PoolType", "PoolTag"],
    "_LDR_DATA_TABLE_ENTRY": ["InLoadOrderLinks", "InMemoryOrderLinks",
                              "InInitializationOrderLinks", "DllBase", "EntryPoint",
                              "SizeOfImage", "FullDllName", "BaseDllName", "Flags",
                              ("LoadCount", "ObsoleteLoadCount")],
    "_KUSER_SHARED_DATA": ["TickCountMultiplier", "InterruptTime", "SystemTime",
                           "NtSystemRoot", "NtProductType", "NtMajorVersion", "NtMinorVersion",
                           "TickCount"],
    "_VF_TARGET_VERIFIED_DRIVER_DATA": ["Signature", "PoolPageHeaders", "PoolTrackers",
                                        "CurrentPagedPoolAllocations",
                                        "CurrentNonPagedPoolAllocations", "PagedBytes",
                                        "NonPagedBytes"],
    "_VF_TARGET_DRIVER": ["TreeNode", "VerifiedData"],
    "_VF_AVL_TREE": ["NodeCount", "Tables", "TablesNo"],
    "_VF_AVL_TABLE": ["RtlTable", "ReservedNode"],
    "_RTL_AVL_TABLE": ["BalancedRoot", "NumberGenericTableElements"],
    "_RTL_BALANCED_LINKS": ["Parent", "LeftChild", "RightChild", "Balance"],
    "_VI_POOL_PAGE_HEADER": ["NextPage", "VerifierEntry", "Signature"],
    "_VI_POOL_ENTRY_INUSE": ["VirtualAddress", "CallingAddress", "NumberOfBytes", "Tag"],
    "_VF_POOL_TRACE": ["Address", "Size", "Thread", "StackTrace"],
    "_VF_SUSPECT_DRIVER_ENTRY": ["Links", "Loads", "Unloads", "BaseName"],
    "_MM_DRIVER_VERIFIER_DATA": ["Level", "CurrentPagedPoolAllocations",
                                 "CurrentNonPagedPoolAllocations", "PagedBytes",
                                 "NonPagedBytes", "PreviousBucketName"],
    "_DBGKD_GET_VERSION64": ["MajorVersion", "MinorVersion", "MachineType", "KernBase",
                             "PsLoadedModuleList", "DebuggerDataList"],
    "_LIST_ENTRY": ["Flink", "Blink"],
    "_UNICODE_STRING": ["Length", "MaximumLength", "Buffer"],
    "_KSYSTEM_TIME": ["LowPart", "High1Time", "High2Time"],
}


@dataclass
class Spec:
    kind: str  # base, pointer, struct, enum, array, bitfield
    size: int
    name: str = ""
    target: str = ""
    count: int = 0
    pos: int = 0
    length: int = 0
    element: "Spec | None" = None


def parse(p: Platform, notation: str) -> Spec:
    """Parse a type notation, asserting that everything it references is declared."""
    m = ARRAY.match(notation)
    if m:
        count = int(m["count"])
        assert count > 0, f"{p.name}: empty array {notation}"
        elem = parse(p, m["elem"])
        assert elem.kind != "bitfield", f"{p.name}: array of bitfields {notation}"
        return Spec("array", elem.size * count, count=count, element=elem)
    m = BITFIELD.match(notation)
    if m:
        size = BASE_SIZES[m["base"]]
        pos, length = int(m["pos"]), int(m["len"])
        assert length >= 1 and pos + length <= 8 * size, f"{p.name}: bad bitfield {notation}"
        return Spec("bitfield", size, name=m["base"], pos=pos, length=length)
    if notation == "ptr" or notation.startswith("ptr:"):
        target = notation[4:]
        if target:
            parse(p, target)  # target must be declared (size may be 0 only for void)
        return Spec("pointer", p.pointer_size, target=target)
    if notation.startswith("enum:"):
        name = notation[5:]
        assert name in p.enums, f"{p.name}: undeclared enum {name}"
        return Spec("enum", BASE_SIZES[p.enums[name].base], name=name)
    if notation in BASE_SIZES:
        return Spec("base", BASE_SIZES[notation], name=notation)
    assert notation in p.types, f"{p.name}: undeclared type {notation!r}"
    return Spec("struct", p.types[notation].size, name=notation)


def all_platforms():
    return [pytest.param(p, id=n) for n, p in sorted(PLATFORMS.items())]


# ----------------------------------------------------------------------------- registry

def test_platform_names():
    assert set(PLATFORMS) == EXPECTED_NAMES
    for name, platform in PLATFORMS.items():
        assert platform.name == name
        assert get_platform(name) is platform


def test_get_platform_unknown_lists_names():
    with pytest.raises(KeyError) as info:
        get_platform("win95-x86")
    for name in EXPECTED_NAMES:
        assert name in str(info.value)


def test_real_symbol_flags():
    assert {n for n, p in PLATFORMS.items() if p.real_symbols} == REAL


# ----------------------------------------------------------------------------- identity

@pytest.mark.parametrize("p", all_platforms())
def test_identity(p: Platform):
    assert re.fullmatch(r"[0-9A-F]{32}", p.guid)
    assert isinstance(p.age, int) and p.age >= 1
    assert p.machine in ("x64", "x86")
    assert p.pae == (p.machine == "x86")
    assert p.pdb_name == ("ntkrnlmp.pdb" if p.machine == "x64" else "ntkrpamp.pdb")
    assert len(p.version) == 4 and all(isinstance(v, int) and v >= 0 for v in p.version)
    assert p.kernel_image_size > 0 and p.kernel_image_size % 0x1000 == 0
    assert p.description


def test_guids_unique():
    guids = [(p.guid, p.age) for p in PLATFORMS.values()]
    assert len(set(guids)) == len(guids)


# ----------------------------------------------------------------------------- types

@pytest.mark.parametrize("p", all_platforms())
def test_required_types_present(p: Platform):
    missing = [t for t in VOLATILITY_REQUIRED + FACTORY_TYPES if t not in p.types]
    assert not missing, missing
    assert ("_MI_VERIFIER_POOL_HEADER" in p.types) != ("_VI_VERIFIER_POOL_HEADER" in p.types)
    for e in ENUMS:
        assert e in p.enums


@pytest.mark.parametrize("p", all_platforms())
def test_required_fields_present(p: Platform):
    for tname, fields in REQUIRED_FIELDS.items():
        declared = p.types[tname].fields
        for f in fields:
            alts = f if isinstance(f, tuple) else (f,)
            assert any(a in declared for a in alts), f"{tname} lacks {alts}"


@pytest.mark.parametrize("p", all_platforms())
def test_fields_well_formed(p: Platform):
    for tname, struct in p.types.items():
        assert struct.kind in ("struct", "union"), tname
        assert struct.size > 0, tname
        for fname, (offset, notation) in struct.fields.items():
            spec = parse(p, notation)  # also: every referenced type/enum is declared
            assert offset >= 0
            assert spec.size > 0 or spec.kind == "pointer", f"{tname}.{fname}: sized 0"
            assert offset + spec.size <= struct.size, (
                f"{p.name}: {tname}.{fname} @{offset:#x}+{spec.size:#x} > {struct.size:#x}")
            if spec.kind in ("base", "bitfield", "pointer", "enum") and spec.size:
                assert offset % spec.size == 0, f"{tname}.{fname} misaligned @{offset:#x}"


@pytest.mark.parametrize("p", all_platforms())
def test_no_self_embedding(p: Platform):
    def embedded(tname, seen):
        assert tname not in seen, f"{p.name}: {tname} embeds itself"
        for _, notation in p.types[tname].fields.values():
            spec = parse(p, notation)
            while spec.kind == "array":
                spec = spec.element
            if spec.kind == "struct":
                embedded(spec.name, seen | {tname})
    for tname in p.types:
        embedded(tname, frozenset())


@pytest.mark.parametrize("p", all_platforms())
def test_pointer_sizes_consistent(p: Platform):
    ps = p.pointer_size
    for tname, struct in p.types.items():
        has_pointer = False
        for fname, (offset, notation) in struct.fields.items():
            spec = parse(p, notation)
            while spec.kind == "array":
                spec = spec.element
            if spec.kind == "pointer":
                has_pointer = True
                assert offset % ps == 0, f"{tname}.{fname}"
        if has_pointer:
            assert struct.size % ps == 0, f"{p.name}: {tname} size {struct.size:#x}"
    t = p.types
    assert t["_LIST_ENTRY"].size == 2 * ps
    assert t["_UNICODE_STRING"].size == 2 * ps
    assert t["_UNICODE_STRING"].fields["Buffer"][0] == ps
    assert t["_EX_FAST_REF"].size == ps
    assert t["_RTL_BALANCED_LINKS"].size == 4 * ps
    assert t["_VF_AVL_TREE_NODE"].size == 2 * ps
    assert t["_VI_POOL_PAGE_HEADER"].size == 3 * ps
    assert t["_VI_POOL_ENTRY_INUSE"].size == 4 * ps
    assert t["_VI_POOL_ENTRY"].size == 4 * ps
    trailer = t.get("_MI_VERIFIER_POOL_HEADER") or t["_VI_VERIFIER_POOL_HEADER"]
    assert trailer.size == ps
    trace = t["_VF_POOL_TRACE"]
    frames = parse(p, trace.fields["StackTrace"][1])
    assert trace.fields["StackTrace"][0] == 3 * ps
    assert trace.size == 3 * ps + frames.size
    big = t["_POOL_TRACKER_BIG_PAGES"]
    assert parse(p, big.fields["Va"][1]).size == ps
    assert parse(p, big.fields["NumberOfBytes"][1]).size == ps
    assert t["_POOL_HEADER"].size == 2 * ps
    assert t["_SLIST_HEADER"].size == 2 * ps
    ldr = t["_LDR_DATA_TABLE_ENTRY"].fields
    assert ldr["DllBase"][0] == 6 * ps  # three LIST_ENTRYs first


@pytest.mark.parametrize("p", all_platforms())
def test_enums(p: Platform):
    for name, enum in p.enums.items():
        assert enum.base in ("u8", "u16", "u32", "u64", "i8", "i16", "i32", "i64"), name
        assert enum.constants, name
        bits = 8 * BASE_SIZES[enum.base]
        for cname, value in enum.constants.items():
            assert isinstance(value, int)
            assert -(1 << bits) < value < (1 << bits), (name, cname)
    pool = p.enums["_POOL_TYPE"].constants
    assert pool["NonPagedPool"] == 0 and pool["PagedPool"] == 1
    assert pool["PagedPoolSession"] == 33
    assert ("NonPagedPoolNx" in pool) == (p.name != "win7-x64")


# ----------------------------------------------------------------------------- globals

def global_sizes(p: Platform) -> dict[str, int]:
    """The bytes the factory writes (or reserves) at each global."""
    ps = p.pointer_size
    t = p.types
    return {
        "PoolBigPageTable": ps, "PoolBigPageTableSize": ps, "ExpPoolBigEntriesInUse": 4,
        "PoolTrackTable": ps, "PoolTrackTableSize": ps, "PoolTrackTableMask": ps,
        "PoolTrackTableExpansion": ps, "PoolTrackTableExpansionSize": ps,
        "ExPoolTagTables": p.tag_table_slots * ps, "ExpSessionPoolTrackTable": ps,
        "PoolHitTag": 4, "VpPoolHitTag": 4,
        "MmVerifierData": t["_MM_DRIVER_VERIFIER_DATA"].size,
        "VfSuspectDriversList": t["_LIST_ENTRY"].size,
        "ViTargetDriversAvl": t["_VF_AVL_TREE"].size,
        "VfPoolTraces": ps, "VfPoolTracesIndex": 4, "VfPoolTracesLength": 4,
        "PsLoadedModuleList": t["_LIST_ENTRY"].size,
        "PsActiveProcessHead": t["_LIST_ENTRY"].size,
        "KdDebuggerDataBlock": p.kdbg_size,
        "KdVersionBlock": t["_DBGKD_GET_VERSION64"].size,
        "KeNumberProcessors": 4, "CmNtCSDVersion": 4,
        "NtBuildLab": 0x40, "NtBuildLabEx": 0x40,  # build strings, at least this much room
        "MmUnloadedDrivers": ps, "MmLastUnloadedDriver": 4,
        "KiProcessorBlock": p.tag_table_slots * ps,  # one slot per possible processor
        "MmSpecialPoolTag": 4, "MmSizeOfPagedPoolInBytes": ps,
        "MmMaximumNonPagedPoolInBytes": ps, "MmSizeOfNonPagedPoolInBytes": ps,
        "KeBootTime": 8, "MmNumberOfPhysicalPages": 4, "KiBugCheckData": 5 * ps,
        # the pool walk's roots (issue 9)
        "ExPoolState": t["_EX_POOL_HEAP_MANAGER_STATE"].size if "ExPoolState" in p.symbols else 0,
        "RtlpHpHeapGlobals": (t["_RTLP_HP_HEAP_GLOBALS"].size
                              if "RtlpHpHeapGlobals" in p.symbols else 0),
        "ExpPoolQuotaCookie": ps, "MmNonPagedPoolStart": ps, "MiNonPagedPoolEnd": ps,
        "MmPagedPoolEnd": ps, "MmSystemRangeStart": ps,
        "MiSystemVaType": (0x100000000 - 0x80000000) >> 21,  # a byte per 2 MiB of system space
    }


@pytest.mark.parametrize("p", all_platforms())
def test_globals_known_and_in_image(p: Platform):
    sizes = global_sizes(p)
    unknown = set(p.symbols) - set(sizes)
    assert not unknown, unknown
    for name in ("PoolBigPageTable", "PoolBigPageTableSize", "PoolTrackTable",
                 "PoolTrackTableSize", "ExPoolTagTables", "PoolHitTag", "MmVerifierData",
                 "VfSuspectDriversList", "ViTargetDriversAvl", "VfPoolTraces",
                 "VfPoolTracesIndex", "VfPoolTracesLength", "PsLoadedModuleList",
                 "PsActiveProcessHead", "KdDebuggerDataBlock", "KdVersionBlock",
                 "KeNumberProcessors", "MmUnloadedDrivers", "MmLastUnloadedDriver",
                 "KiProcessorBlock", "KiBugCheckData"):
        assert name in p.symbols, name
    for name, rva in p.symbols.items():
        assert 0 < rva and rva + sizes[name] <= p.kernel_image_size, name


@pytest.mark.parametrize("p", all_platforms())
def test_globals_do_not_overlap(p: Platform):
    sizes = global_sizes(p)
    ordered = sorted(p.symbols.items(), key=lambda kv: kv[1])
    for (name, rva), (next_name, next_rva) in zip(ordered, ordered[1:]):
        assert rva + sizes[name] <= next_rva, (
            f"{p.name}: {name} @{rva:#x}+{sizes[name]:#x} overlaps {next_name} @{next_rva:#x}")


@pytest.mark.parametrize("p", all_platforms())
def test_natural_alignment_of_globals(p: Platform):
    ps = p.pointer_size
    for name in ("PoolBigPageTable", "PoolTrackTable", "ExPoolTagTables", "VfPoolTraces",
                 "PsLoadedModuleList", "MmVerifierData", "ViTargetDriversAvl"):
        assert p.symbols[name] % ps == 0, name
    assert p.symbols["KeBootTime"] % 8 == 0


@pytest.mark.parametrize("p", all_platforms())
def test_pool_big_page_table_pointer_spacing(p: Platform):
    # PoolBigPageTable is a pointer variable: the next symbol follows one pointer later.
    rva = p.symbols["PoolBigPageTable"]
    later = sorted(v for v in p.symbols.values() if v > rva)
    assert later and later[0] - rva >= p.pointer_size


@pytest.mark.parametrize("p", all_platforms())
def test_counts(p: Platform):
    assert p.tag_table_slots in (32, 256, 640, 1280, 2048)
    assert p.kdbg_size >= 0x340 and p.kdbg_size % 8 == 0


# ----------------------------------------------------------------------------- functions

@pytest.mark.parametrize("p", all_platforms())
def test_functions(p: Platform):
    assert {"ExAllocatePoolWithTag", "ExFreePoolWithTag", "KeBugCheckEx",
            "DbgBreakPoint", "IofCallDriver"} <= set(p.functions)
    spans = {}
    for name, fn in p.functions.items():
        assert fn.extent > 0, name
        assert 0 < fn.rva and fn.rva + fn.extent <= p.kernel_image_size, name
        spans.setdefault(fn.rva, set()).add(fn.extent)
    # aliases (two names at one RVA) must agree; distinct functions must not overlap
    for rva, extents in spans.items():
        assert len(extents) == 1, f"{p.name}: aliases at {rva:#x} disagree"
    ordered = sorted((rva, next(iter(e))) for rva, e in spans.items())
    for (rva, extent), (next_rva, _) in zip(ordered, ordered[1:]):
        assert rva + extent <= next_rva, f"{p.name}: functions overlap at {rva:#x}"
    # no global lies inside a function body
    for name, rva in p.symbols.items():
        for frva, extent in ordered:
            assert not (frva < rva < frva + extent), (name, hex(frva))
