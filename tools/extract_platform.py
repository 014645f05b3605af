#!/usr/bin/env python3
"""Generate a ``dumpscan/synth/platforms/<build>.py`` module from a real Volatility3 ISF.

Development tool only: the project never reads an ISF at run time. The generated module
holds plain Python literals (type layouts, enums, symbol RVAs, function extents) in the
compact notation of ``dumpscan/synth/platforms/base.py``.

    python tools/extract_platform.py ../shared/isf/windows/ntkrnlmp.pdb/<GUID>-1.json.xz \
        > dumpscan/synth/platforms/win10_x64.py

    # the per-type tables of docs/layouts.md, from the platform modules themselves
    python tools/extract_platform.py --update-doc docs/layouts.md

What is extracted (see docs/layouts.md for the reasons):

* ``FULL`` types with every field, and every struct/union they embed (recursively, incl.
  the ISF's anonymous ``__unnamed_*`` / ``__anonymous_*`` types);
* ``PARTIAL`` types with the listed fields only (those that exist on the build), plus
  what those fields embed;
* ``STUBS`` (and any other struct a declared pointer points at) as size-only entries;
* enums referenced by a declared field, plus ``ENUMS``, with all constants;
* the data symbols in ``SYMBOLS`` and the functions in ``FUNCTIONS`` that exist on the
  build; a function's extent is the distance to the next higher address among *all*
  ISF symbols.

Type translation (ISF -> notation): base ``unsigned char/short/long/long long`` -> ``u8
u16 u32 u64``, ``char/short/long/long long`` -> ``i8 i16 i32 i64``, ``int``/``unsigned int``
(4-byte) -> ``i32``/``u32``, ``wchar``/``void`` as is; pointer to void or to a function ->
``ptr``; pointer to T -> ``ptr:T`` (so a pointer to a void pointer is ``ptr:ptr``);
struct/union -> its name; enum -> ``enum:_X``; array -> ``T[N]``; bitfield ->
``base{pos:len}``.
"""
from __future__ import annotations

import argparse
import bisect
import importlib
import json
import lzma
import sys
import textwrap
from pathlib import Path

BASE = {
    "unsigned char": "u8", "unsigned short": "u16", "unsigned long": "u32",
    "unsigned long long": "u64", "char": "i8", "short": "i16", "long": "i32",
    "long long": "i64", "int": "i32", "unsigned int": "u32", "wchar": "wchar", "void": "void",
}

# The 29 types volatility3's WindowsKernelIntermedSymbols refuses to load without.
VOLATILITY_REQUIRED = (
    "_ETHREAD _KTHREAD _LIST_ENTRY _EPROCESS _ERESOURCE _UNICODE_STRING _EX_FAST_REF _TOKEN "
    "_OBJECT_HEADER _FILE_OBJECT _DEVICE_OBJECT _CM_KEY_BODY _CMHIVE _CM_KEY_NODE _CM_KEY_VALUE "
    "_HMAP_ENTRY _MMVAD_SHORT _MMVAD _KSYSTEM_TIME _KMUTANT _DRIVER_OBJECT _OBJECT_SYMBOLIC_LINK "
    "_CONTROL_AREA _SHARED_CACHE_MAP _VACB _POOL_TRACKER_BIG_PAGES _IMAGE_DOS_HEADER _KTIMER "
    "_LDR_DATA_TABLE_ENTRY"
).split()

FULL = (
    "_LIST_ENTRY _UNICODE_STRING _KSYSTEM_TIME _POOL_TRACKER_BIG_PAGES _IMAGE_DOS_HEADER "
    "_DBGKD_GET_VERSION64 _POOL_TRACKER_TABLE _POOL_HEADER _MM_DRIVER_VERIFIER_DATA "
    "_VF_SUSPECT_DRIVER_ENTRY _VF_AVL_TREE _VF_AVL_TABLE _RTL_AVL_TABLE _RTL_BALANCED_LINKS "
    "_VF_AVL_TREE_NODE _VF_AVL_TREE_NODE_EX _VF_TARGET_DRIVER _VF_TARGET_VERIFIED_DRIVER_DATA "
    "_VI_POOL_PAGE_HEADER _VI_POOL_ENTRY_INUSE _VI_POOL_ENTRY _MI_VERIFIER_POOL_HEADER "
    "_VI_VERIFIER_POOL_HEADER _VF_POOL_TRACE _SLIST_HEADER _SLIST_ENTRY "
    "_HEAP_LFH_SUBSEGMENT_ENCODED_OFFSETS _HEAP_VS_CHUNK_HEADER"
).split()

LDR_FIELDS = (
    "InLoadOrderLinks InMemoryOrderLinks InInitializationOrderLinks DllBase EntryPoint "
    "SizeOfImage FullDllName BaseDllName Flags LoadCount ObsoleteLoadCount"
).split()

PARTIAL = {
    "_LDR_DATA_TABLE_ENTRY": LDR_FIELDS,
    "_KLDR_DATA_TABLE_ENTRY": LDR_FIELDS,
    "_KUSER_SHARED_DATA": (
        "TickCountLowDeprecated TickCountMultiplier InterruptTime SystemTime TimeZoneBias "
        "ImageNumberLow ImageNumberHigh NtSystemRoot NtProductType ProductTypeIsValid "
        "NativeProcessorArchitecture NtMajorVersion NtMinorVersion KdDebuggerEnabled "
        "NumberOfPhysicalPages SafeBootMode TickCount NtBuildNumber"
    ).split(),
    # the kernel pool's segment heap (19H1+), segment-heap-pool.md §0-4
    "_EX_POOL_HEAP_MANAGER_STATE": "HeapManager NumberOfPools PoolNode SpecialHeaps".split(),
    "_RTLP_HP_HEAP_MANAGER": ["Globals"],
    "_RTLP_HP_HEAP_GLOBALS": ["HeapKey", "LfhKey"],
    "_EX_HEAP_POOL_NODE": ["Heaps"],
    "_SEGMENT_HEAP": ["Signature", "SegContexts"],
    "_HEAP_SEG_CONTEXT": (
        "SegmentMask UnitShift PagesPerUnitShift FirstDescriptorIndex Heap SegmentListHead "
        "SegmentCount").split(),
    "_HEAP_PAGE_SEGMENT": ["ListEntry", "Signature", "DescArray"],
    "_HEAP_PAGE_RANGE_DESCRIPTOR": "TreeSignature RangeFlags CommittedPageCount UnitOffset UnitSize".split(),
    "_HEAP_LFH_SUBSEGMENT": (
        "ListEntry FreeCount BlockCount FreeHint WitheldBlockCount BlockOffsets BlockBitmap").split(),
    "_HEAP_VS_SUBSEGMENT": ["ListEntry", "Size", "Signature", "FullCommit"],
    # the process list (issue 9 §3: who the pool is charged to)
    "_EPROCESS": (
        "Pcb ActiveProcessLinks UniqueProcessId InheritedFromUniqueProcessId ImageFileName "
        "CreateTime QuotaBlock "
        # what Volatility3's windows.pslist reads besides
        "ActiveThreads ObjectTable Session ExitTime Wow64Process WoW64Process").split(),
    "_KPROCESS": ["DirectoryTableBase"],
}

STUBS = [t for t in VOLATILITY_REQUIRED if t not in FULL and t not in PARTIAL]

ENUMS = ["_POOL_TYPE", "_NT_PRODUCT_TYPE"]

SYMBOLS = (
    "PoolBigPageTable PoolBigPageTableSize ExpPoolBigEntriesInUse PoolTrackTable "
    "PoolTrackTableSize PoolTrackTableMask PoolTrackTableExpansion PoolTrackTableExpansionSize "
    "ExPoolTagTables ExpSessionPoolTrackTable PoolHitTag VpPoolHitTag MmVerifierData "
    "VfSuspectDriversList ViTargetDriversAvl VfPoolTraces VfPoolTracesIndex VfPoolTracesLength "
    "PsLoadedModuleList PsActiveProcessHead KdDebuggerDataBlock KdVersionBlock "
    "KeNumberProcessors CmNtCSDVersion NtBuildLab NtBuildLabEx MmUnloadedDrivers "
    "MmLastUnloadedDriver KiProcessorBlock MmSpecialPoolTag MmSizeOfPagedPoolInBytes "
    "MmMaximumNonPagedPoolInBytes MmSizeOfNonPagedPoolInBytes KeBootTime "
    "MmNumberOfPhysicalPages KiBugCheckData ExPoolState RtlpHpHeapGlobals ExpPoolQuotaCookie "
    "MmNonPagedPoolStart MiNonPagedPoolEnd MmPagedPoolEnd"
).split()

FUNCTIONS = (
    "ExAllocatePoolWithTag ExAllocatePool2 ExAllocatePoolWithQuotaTag ExFreePoolWithTag "
    "ExFreePool ExAllocateHeapPool ExFreeHeapPool ExpAllocateBigPool ExDeferredFreePool "
    "ExpFreeBigPages VerifierExAllocatePoolWithTag VerifierExAllocatePool2 "
    "VerifierExFreePoolWithTag VeAllocatePoolWithTagPriority XdvExAllocatePoolInternal "
    "ViFreeTrackedPool VfFreePoolNotification ViPoolLogStackTrace ViPtLogStackTrace "
    "IovCallDriver IofCallDriver IopSynchronousServiceTail IopXxxControlFile "
    "NtDeviceIoControlFile KiSystemServiceCopyEnd KiSystemServicePostCall IopDeleteFile "
    "ObpRemoveObjectRoutine ObfDereferenceObjectWithTag ObfDereferenceObject ExSweepHandleTable "
    "ObKillProcess PspRundownSingleProcess PspExitThread KiSchedulerApcTerminate KeBugCheckEx "
    "KiBreakpointTrap KiExceptionDispatch KiDispatchException DbgBreakPoint KiSystemCall64 "
    "PspSystemThreadStartup KiStartSystemThread"
).split()

# Values that the ISF does not carry, per build (keyed by GUID-age).
BUILDS = {
    "339E74133576439CBCDF7E0229DA3773-1": {
        "module": "win7_x64",
        "name": "win7-x64",
        "description": "Windows 7 SP1 x64 6.1.7601.24540",
        "os": "Windows 7 SP1 x64 6.1.7601.24540",
        "version": (6, 1, 7601, 24540),
        "kdbg_size": 0x340,
        "kdbg_note": (
            "KDDEBUGGER_DATA64 up to the 'Windows 7 addition' (OffsetPrcbContext @0x338) is "
            "0x340 bytes [WDK wdbgexts.h field history; Volatility3 kdbg.json is 0x340]; "
            "the ISF gap to the next symbol (KdComponentTable) is exactly 0x340 [V ISF]."),
    },
    "1C9875F76C8F0FBF3EB9A9D7C1C27406-1": {
        "module": "win10_x64",
        "name": "win10-x64",
        "description": "Windows 10 x64 10.0.19041.450 (20H1)",
        "os": "Windows 10 x64 10.0.19041.450 (20H1)",
        "version": (10, 0, 19041, 450),
        "kdbg_size": 0x380,
        "kdbg_note": (
            "MODEL [M+]: KDDEBUGGER_DATA64 with the 'Windows 10 RS5 addition' (Retpoline* "
            "fields, last ends at 0x37C) is 0x380 bytes after 8-byte padding [WDK "
            "wdbgexts.h field history]; the ISF gap to the next symbol is exactly 0x380 "
            "[V ISF]. (The RS1 layout, 0x368, would also fit.)"),
    },
    "0B0A89438BE7729EB33FD00A7D6FA816-1": {
        "module": "win11_x64",
        "name": "win11-x64",
        "description": "Windows 11 x64 10.0.22000.1516 (21H2)",
        "os": "Windows 11 x64 10.0.22000.1516 (21H2)",
        "version": (10, 0, 22000, 1516),
        "kdbg_size": 0x380,
        "kdbg_note": (
            "MODEL [M+]: KDDEBUGGER_DATA64 with the RS5 and 'Iron' additions "
            "(OffsetEProcessMmHotPatchContext ends at 0x37E) is 0x380 bytes after padding "
            "[WDK wdbgexts.h field history]; the ISF gap to the next symbol is exactly "
            "0x380 [V ISF]. (The RS1 layout, 0x368, would also fit.)"),
    },
}

EXPECTED_TAG_SLOTS = {"win7-x64": 256, "win10-x64": 1280, "win11-x64": 2048}


def load_isf(path: Path) -> dict:
    opener = lzma.open if path.suffix == ".xz" else open
    with opener(path, "rt") as handle:
        return json.load(handle)


DANGLING: set[str] = set()  # pointer targets the ISF names but does not define


def notation(t: dict, user_types: dict | None = None) -> str:
    """ISF type descriptor -> compact notation (see module docstring).

    A pointer to a struct the ISF does not define (the real ISFs have a few such
    dangling references) is spelled ``ptr``, and the name is recorded in DANGLING."""
    kind = t["kind"]
    if kind == "base":
        return BASE[t["name"]]
    if kind in ("struct", "union", "class"):
        return t["name"]
    if kind == "enum":
        return "enum:" + t["name"]
    if kind == "array":
        return f"{notation(t['subtype'], user_types)}[{t['count']}]"
    if kind == "bitfield":
        return f"{notation(t['type'], user_types)}{{{t['bit_position']}:{t['bit_length']}}}"
    if kind == "pointer":
        sub = t["subtype"]
        if sub["kind"] == "function" or (sub["kind"] == "base" and sub["name"] == "void"):
            return "ptr"
        if (user_types is not None and sub["kind"] in ("struct", "union", "class")
                and sub["name"] not in user_types):
            DANGLING.add(sub["name"])
            return "ptr"
        return "ptr:" + notation(sub, user_types)
    if kind == "function":
        raise ValueError("a function type outside a pointer")
    raise ValueError(f"unknown ISF type kind {kind!r}")


def referenced(t: dict, embedded: set, pointed: set, enums: set, through_pointer=False):
    kind = t["kind"]
    if kind in ("struct", "union", "class"):
        (pointed if through_pointer else embedded).add(t["name"])
    elif kind == "enum":
        enums.add(t["name"])
    elif kind == "array":
        referenced(t["subtype"], embedded, pointed, enums, through_pointer)
    elif kind == "bitfield":
        referenced(t["type"], embedded, pointed, enums, through_pointer)
    elif kind == "pointer":
        referenced(t["subtype"], embedded, pointed, enums, True)


def select(isf: dict) -> tuple[dict, dict]:
    """types: name -> (kind, size, {field: (offset, notation)}, how); enums: name -> Enum args."""
    user = isf["user_types"]
    chosen: dict[str, tuple[str, int, dict, str]] = {}
    embedded: set[str] = set()
    pointed: set[str] = set()
    enum_names: set[str] = set(e for e in ENUMS if e in isf["enums"])

    def add(name: str, fields_wanted, how: str) -> None:
        u = user[name]
        fields = {}
        for fname, fdesc in u["fields"].items():
            if fields_wanted is not None and fname not in fields_wanted:
                continue
            fields[fname] = (fdesc["offset"], notation(fdesc["type"], user))
            inner: set[str] = set()
            referenced(fdesc["type"], inner, pointed, enum_names)
            embedded.update(inner)
        chosen[name] = (u["kind"], u["size"], fields, how)

    for name in FULL:
        if name in user:
            add(name, None, "full")
    for name, wanted in PARTIAL.items():
        if name in user:
            add(name, set(wanted), "partial")
    # embedded types: all fields, to a fixed point
    while True:
        todo = sorted(n for n in embedded if n not in chosen)
        if not todo:
            break
        for name in todo:
            add(name, None, "embedded")
    for name in STUBS:
        if name not in chosen:
            u = user[name]
            chosen[name] = (u["kind"], u["size"], {}, "stub")
    for name in sorted(pointed):
        if name not in chosen and name in user:
            u = user[name]
            chosen[name] = (u["kind"], u["size"], {}, "pointee")
    enums = {}
    for name in sorted(enum_names):
        e = isf["enums"][name]
        enums[name] = (BASE[e["base"]], dict(sorted(e["constants"].items(), key=lambda kv: kv[1])))
    return chosen, enums


def functions_and_symbols(isf: dict) -> tuple[dict, dict, list]:
    syms = isf["symbols"]
    addresses = sorted({s["address"] for s in syms.values()})
    data = {n: syms[n]["address"] for n in SYMBOLS if n in syms}
    funcs = {}
    for n in FUNCTIONS:
        if n not in syms:
            continue
        rva = syms[n]["address"]
        nxt = addresses[bisect.bisect_right(addresses, rva)]
        funcs[n] = (rva, nxt - rva)
    missing = [n for n in SYMBOLS + FUNCTIONS if n not in syms]
    return data, funcs, missing


def gap_to_next(isf: dict, name: str) -> int:
    addresses = sorted({s["address"] for s in isf["symbols"].values()})
    rva = isf["symbols"][name]["address"]
    return addresses[bisect.bisect_right(addresses, rva)] - rva


def _wrap(lines: list[str], width: int = 92) -> list[str]:
    out = []
    for line in lines:
        if line.startswith("Source: "):  # keep the provenance sentence greppable
            out.append(line)
            continue
        indent = "  " if line.startswith("* ") else ""
        out.extend(textwrap.wrap(line, width, subsequent_indent=indent,
                                 break_on_hyphens=False) or [""])
    return out


ORDER = {"full": 0, "partial": 1, "embedded": 2, "stub": 3, "pointee": 4}
HOW = {
    "full": "all fields",
    "partial": "listed fields only",
    "embedded": "all fields (embedded by a declared type)",
    "stub": "size only (Volatility3 requires the type)",
    "pointee": "size only (target of a declared pointer)",
}


def render(isf: dict) -> str:
    pdb = isf["metadata"]["windows"]["pdb"]
    key = f"{pdb['GUID']}-{pdb['age']}"
    cfg = BUILDS[key]
    pointer_size = isf["base_types"]["pointer"]["size"]
    machine = {8: "x64", 4: "x86"}[pointer_size]
    types, enums = select(isf)
    data, funcs, missing = functions_and_symbols(isf)
    max_rva = max(s["address"] for s in isf["symbols"].values())
    image_size = (max_rva + 1 + 0xFFF) & ~0xFFF
    slot_gap = gap_to_next(isf, "ExPoolTagTables")
    slots = slot_gap // pointer_size
    if cfg["name"] in EXPECTED_TAG_SLOTS and slots != EXPECTED_TAG_SLOTS[cfg["name"]]:
        raise SystemExit(f"unexpected ExPoolTagTables slot count {slots}")
    kdbg_gap = gap_to_next(isf, "KdDebuggerDataBlock")
    if cfg["kdbg_size"] > kdbg_gap:
        raise SystemExit(f"kdbg_size {cfg['kdbg_size']:#x} exceeds the gap {kdbg_gap:#x}")

    out = []
    w = out.append
    doc: list[str] = []
    d = doc.append
    d('Layout tables of the %s kernel (%s).' % (cfg["os"], pdb["database"]))
    d("")
    d("Source: JPCERTCC/Windows-Symbol-Tables ISF %s (%s, %s), BSD-3-Clause; extracted by "
      "tools/extract_platform.py. Every size, offset, field type, enum constant, symbol RVA "
      "and function extent below is read from that ISF [VERIFIED]." % (
          key, pdb["database"], cfg["os"]))
    d("")
    d("Values that are NOT in the ISF:")
    d("* name, description, version: the build the ISF names (JPCERT file list / GUID).")
    d("* kernel_image_size: the real SizeOfImage could not be established (no public record "
      "found); %#x = highest ISF symbol RVA (%#x) + 1, rounded up to 0x1000 [MODEL]." % (
          image_size, max_rva))
    d("* tag_table_slots: gap from ExPoolTagTables to the next ISF symbol (%#x) / %d [M+]." % (
        slot_gap, pointer_size))
    d("* kdbg_size: " + cfg["kdbg_note"])
    d("* function extents: distance to the next higher RVA among all ISF symbols [VERIFIED].")
    if DANGLING:
        d("")
        d("Pointer targets the ISF names but does not define (spelled ``ptr`` here): "
          + ", ".join(sorted(DANGLING)) + ".")
    if missing:
        d("")
        d("Listed names absent from this ISF (so not declared): " + ", ".join(missing) + ".")
    w('"""' + "\n".join(_wrap(doc)))
    w('"""')
    w("from dumpscan.synth.platforms.base import Enum, Function, Platform, Struct")
    w("")
    w("PLATFORM = Platform(")
    w(f'    name="{cfg["name"]}",')
    w(f'    description="{cfg["description"]}",')
    w(f'    machine="{machine}",')
    w(f"    pae={machine == 'x86'},")
    w(f'    pdb_name="{pdb["database"]}",')
    w(f'    guid="{pdb["GUID"]}",')
    w(f"    age={pdb['age']},")
    w(f"    version={cfg['version']!r},")
    w("    real_symbols=True,")
    w(f"    kernel_image_size={image_size:#x},  # MODEL: max ISF RVA {max_rva:#x} rounded up")
    w("    types={")
    for name, (kind, size, fields, how) in sorted(types.items(), key=lambda kv: (ORDER[kv[1][3]], kv[0])):
        kind_arg = "" if kind == "struct" else f', kind="{kind}"'
        comment = f"  # {HOW[how]}"
        if not fields:
            w(f'        "{name}": Struct({size:#x}, {{}}{kind_arg}),{comment}')
            continue
        w(f'        "{name}": Struct({size:#x}, {{{comment}')
        for fname, (off, note) in sorted(fields.items(), key=lambda kv: (kv[1][0], kv[0])):
            w(f'            "{fname}": ({off:#x}, "{note}"),')
        w(f"        }}{kind_arg}),")
    w("    },")
    w("    enums={")
    for name, (base, constants) in enums.items():
        w(f'        "{name}": Enum("{base}", {{')
        for cname, value in constants.items():
            w(f'            "{cname}": {value},')
        w("        }),")
    w("    },")
    w("    symbols={")
    for name in SYMBOLS:
        if name in data:
            w(f'        "{name}": {data[name]:#x},')
    w("    },")
    w("    functions={")
    for name in FUNCTIONS:
        if name in funcs:
            rva, extent = funcs[name]
            w(f'        "{name}": Function({rva:#x}, {extent:#x}),')
    w("    },")
    w(f"    tag_table_slots={slots},  # ExPoolTagTables gap {slot_gap:#x} / {pointer_size} [M+]")
    w(f"    kdbg_size={cfg['kdbg_size']:#x},  # see the module docstring")
    w("    sources=(")
    w(f'        "JPCERTCC/Windows-Symbol-Tables symbols/windows/{pdb["database"]}/{key}.json.xz'
      ' (BSD-3-Clause)",')
    w('        "WDK wdbgexts.h KDDEBUGGER_DATA64 field history (kdbg_size)",')
    w("    ),")
    w(")")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------------------
# docs/layouts.md tables, rendered from the platform modules (all five platforms)
# --------------------------------------------------------------------------------------

FAMILIES = [
    ("Big pool", ["_POOL_TRACKER_BIG_PAGES"]),
    ("Pool tag tables and pool header", ["_POOL_TRACKER_TABLE", "_POOL_HEADER"]),
    ("Driver Verifier globals and suspect list", ["_MM_DRIVER_VERIFIER_DATA", "_VF_SUSPECT_DRIVER_ENTRY"]),
    ("Verifier AVL tree", ["_VF_AVL_TREE", "_VF_AVL_TABLE", "_RTL_AVL_TABLE", "_RTL_BALANCED_LINKS",
                           "_VF_AVL_TREE_NODE", "_VF_AVL_TREE_NODE_EX", "_VF_TARGET_DRIVER"]),
    ("Per-driver verifier data", ["_VF_TARGET_VERIFIED_DRIVER_DATA"]),
    ("Tracker pages and trailers", ["_VI_POOL_PAGE_HEADER", "_VI_POOL_ENTRY_INUSE", "_VI_POOL_ENTRY",
                                    "_MI_VERIFIER_POOL_HEADER", "_VI_VERIFIER_POOL_HEADER"]),
    ("Allocate/free trace log", ["_VF_POOL_TRACE"]),
    ("SLIST", ["_SLIST_HEADER", "_SLIST_ENTRY"]),
    ("Loaded modules", ["_LDR_DATA_TABLE_ENTRY", "_KLDR_DATA_TABLE_ENTRY"]),
    ("Common small types", ["_LIST_ENTRY", "_UNICODE_STRING", "_KSYSTEM_TIME"]),
    ("Kernel identification", ["_KUSER_SHARED_DATA", "_DBGKD_GET_VERSION64", "_IMAGE_DOS_HEADER"]),
]

DOC_MARKER = "<!-- generated below by: python tools/extract_platform.py --update-doc docs/layouts.md -->"

PLATFORM_ORDER = ["win7-x64", "win81-x86", "win10-x64", "win11-x64", "win11-24h2-x64"]

# Status of the hand-written platforms' layouts, per type (see the module docstrings).
X86_INFERRED = {"_KTHREAD", "_EX_FAST_REF", "_FILE_OBJECT", "_KMUTANT", "_KTIMER"}
X86_VIA_DOC = {"_RTL_AVL_TABLE": "V S2/S3 (doc)", "_RTL_BALANCED_LINKS": "V S2/S3 (doc)",
               "_MI_VERIFIER_POOL_HEADER": "V S13 (doc)"}


def status(platform, tname: str) -> str:
    if platform.real_symbols:
        return "V S1"
    if platform.machine == "x86":
        if tname in X86_INFERRED:
            return "M+ S2 (size from neighbours)"
        if tname in X86_VIA_DOC:
            return X86_VIA_DOC[tname]
        if tname.startswith("__unnamed_"):
            return "V S2 (name chosen)"
        return "V S2"
    if tname == "_POOL_TRACKER_BIG_PAGES":
        return "MODEL (=22000, PoolFlags)"
    return "MODEL (=22000)"


def layouts_md() -> str:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    platforms = importlib.import_module("dumpscan.synth.platforms").PLATFORMS
    plats = [platforms[n] for n in PLATFORM_ORDER]
    out = []
    w = out.append
    shown = set()
    for family, names in FAMILIES:
        w(f"### {family}\n")
        for tname in names:
            shown.add(tname)
            out.extend(_type_table(tname, plats))
    w("### Nested (anonymous and embedded) types\n")
    w("Anonymous types keep the name their ISF gives them, so each build has its own; the")
    w("line under each heading says which member uses it.\n")
    rest = sorted({n for p in plats for n, s in p.types.items() if s.fields} - shown)
    for tname in rest:
        users = []
        for p in plats:
            for owner, s in p.types.items():
                for fname, (_, note) in s.fields.items():
                    if note == tname:
                        users.append(f"{p.name}: `{owner}.{fname}`")
        out.extend(_type_table(tname, [p for p in plats if tname in p.types],
                               note="Used by " + "; ".join(users) if users else ""))
    w("### Size-only types\n")
    w("Declared without fields: Volatility3 requires them, or a declared pointer points at them.\n")
    stubs = sorted({n for p in plats for n, s in p.types.items() if not s.fields} - shown - set(rest))
    w("| Type | " + " | ".join(p.name for p in plats) + " |")
    w("|---|" + "---|" * len(plats))
    for tname in stubs:
        cells = []
        for p in plats:
            if tname not in p.types:
                cells.append("–")
            else:
                st = status(p, tname)
                cells.append(f"{p.types[tname].size:#x}" + ("" if st.startswith("V") else f" ({st})"))
        w(f"| `{tname}` | " + " | ".join(cells) + " |")
    w("")
    w("### Enums\n")
    for ename in sorted({n for p in plats for n in p.enums}):
        w(f"#### `{ename}`\n")
        w("| Constant | " + " | ".join(p.name for p in plats) + " |")
        w("|---|" + "---|" * len(plats))
        w("| *base* | " + " | ".join(p.enums[ename].base if ename in p.enums else "–" for p in plats) + " |")
        consts: dict[str, int] = {}
        for p in plats:
            if ename in p.enums:
                for c, v in p.enums[ename].constants.items():
                    consts.setdefault(c, v)
        for c in sorted(consts, key=lambda c: (consts[c], c)):
            cells = [str(p.enums[ename].constants[c]) if ename in p.enums and c in p.enums[ename].constants else "–"
                     for p in plats]
            w(f"| {c} | " + " | ".join(cells) + " |")
        w("")
    w("### Global symbol RVAs\n")
    w("Real builds: [V S1]. win81-x86 and win11-24h2-x64: chosen (see their modules).\n")
    w("| Symbol | " + " | ".join(p.name for p in plats) + " |")
    w("|---|" + "---|" * len(plats))
    for name in SYMBOLS:
        cells = [f"{p.symbols[name]:#x}" if name in p.symbols else "–" for p in plats]
        w(f"| {name} | " + " | ".join(cells) + " |")
    w("")
    w("### Function RVAs and extents\n")
    w("`rva +extent`. Real builds: [V S1], extent = distance to the next ISF symbol.")
    w("win81-x86: chosen; win11-24h2-x64: 22000 values shifted (chosen/MODEL).\n")
    w("| Function | " + " | ".join(p.name for p in plats) + " |")
    w("|---|" + "---|" * len(plats))
    for name in FUNCTIONS:
        cells = [f"{p.functions[name].rva:#x} +{p.functions[name].extent:#x}" if name in p.functions else "–"
                 for p in plats]
        w(f"| {name} | " + " | ".join(cells) + " |")
    w("")
    w("### Counts and sizes not in the type tables\n")
    w("| Item | " + " | ".join(p.name for p in plats) + " |")
    w("|---|" + "---|" * len(plats))
    w("| kernel_image_size | " + " | ".join(f"{p.kernel_image_size:#x}" for p in plats) + " |")
    w("| tag_table_slots | " + " | ".join(str(p.tag_table_slots) for p in plats) + " |")
    w("| kdbg_size | " + " | ".join(f"{p.kdbg_size:#x}" for p in plats) + " |")
    w("")
    return "\n".join(out) + "\n"


def _type_table(tname: str, plats, note: str = "") -> list[str]:
    lines = []
    present = [p for p in plats if tname in p.types]
    if not present:
        return lines
    lines.append(f"#### `{tname}`\n")
    if note:
        lines.append(note + "\n")
    lines.append("| Field | " + " | ".join(p.name for p in plats) + " |")
    lines.append("|---|" + "---|" * len(plats))
    sizes = []
    for p in plats:
        s = p.types.get(tname)
        sizes.append(f"{s.size:#x}{' union' if s.kind == 'union' else ''}" if s else "absent")
    lines.append("| *size* | " + " | ".join(sizes) + " |")
    lines.append("| *status* | " + " | ".join(status(p, tname) if tname in p.types else "–"
                                             for p in plats) + " |")
    fields: list[str] = []
    for p in present:  # first-seen order, each platform's fields by offset
        for fname, _ in sorted(p.types[tname].fields.items(), key=lambda kv: (kv[1][0], kv[0])):
            if fname not in fields:
                fields.append(fname)
    for fname in fields:
        cells = []
        for p in plats:
            s = p.types.get(tname)
            if s is None or fname not in s.fields:
                cells.append("–")
            else:
                off, note_ = s.fields[fname]
                cells.append(f"{off:#x} `{note_}`")
        lines.append(f"| {fname} | " + " | ".join(cells) + " |")
    lines.append("")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("isf", nargs="?", type=Path, help="ISF file (.json or .json.xz)")
    parser.add_argument("--layouts-md", action="store_true",
                        help="print the per-type tables of docs/layouts.md instead")
    parser.add_argument("--update-doc", type=Path, metavar="MD",
                        help="replace everything after the marker line in MD with the tables")
    args = parser.parse_args(argv)
    if args.layouts_md:
        sys.stdout.write(layouts_md())
        return 0
    if args.update_doc:
        text = args.update_doc.read_text()
        head, sep, _ = text.partition(DOC_MARKER)
        if not sep:
            parser.error(f"{args.update_doc} has no marker line {DOC_MARKER!r}")
        args.update_doc.write_text(head + DOC_MARKER + "\n\n" + layouts_md())
        return 0
    if args.isf is None:
        parser.error("an ISF path is required")
    sys.stdout.write(render(load_isf(args.isf)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
