"""Helpers every reader shares: bulk table reads that report absent pages, member
offsets (nested, by ISF name), vectorised decoding of integer members (bitfields
included), UNICODE_STRINGs, tag text.

Nothing here knows a Windows build: every offset and width comes from the symbol
table through the KernelView.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..symbols.isf import Member, SymbolTableError
from .view import PAGE, KernelView, MemoryAbsent

# Generous hard caps: no table, list or tree of a sane kernel comes near them, and a
# corrupt count never makes a reader allocate more than this.
MAX_TABLE_BYTES = 1 << 30  # one bulk table, in bytes (read in chunks of CHUNK_BYTES)
CHUNK_BYTES = 16 << 20
MAX_LIST_ENTRIES = 1 << 16  # LIST_ENTRY walks (loaded modules, suspect drivers)
MAX_STRING_BYTES = 0xFFFF  # UNICODE_STRING.Length is a USHORT


def key_tag(key: int) -> str:
    """The 4-character text of a pool tag key, PROTECTED_POOL bit (31) cleared, bytes
    taken as Latin-1 (the same rule as the factory's truth and report schema)."""
    return (int(key) & 0x7FFFFFFF).to_bytes(4, "little").decode("latin-1")


def tag_display(key: int) -> str:
    """The quoted tag text for warnings and messages: printable ASCII as is, every other
    byte (NUL, control, non-ASCII) as a \\xNN escape, so a corrupt key never puts raw
    control bytes into a line of output."""
    raw = (int(key) & 0x7FFFFFFF).to_bytes(4, "little")
    return "'" + "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else f"\\x{b:02x}"
                         for b in raw) + "'"


def tag_key(tag: str) -> int:
    return int.from_bytes(tag.encode("latin-1", "replace").ljust(4, b" ")[:4], "little")


def canonical_array(view: KernelView, values: np.ndarray) -> np.ndarray:
    """Sign-extend 48-bit x64 addresses in bulk (no-op on x86)."""
    values = values.astype(np.uint64, copy=False)
    if view.pointer_size != 8:
        return values
    high = (values & np.uint64(1 << 47)) != 0
    return np.where(high, values | np.uint64(0xFFFF000000000000), values)


# -- member offsets -------------------------------------------------------------------
def member(view: KernelView, type_name: str, path: str) -> tuple[int, Member]:
    """(offset from the start of ``type_name``, Member) of a dotted member path such as
    ``RtlTable.BalancedRoot.RightChild``; SymbolTableError if any step is missing."""
    offset = 0
    current = type_name
    found: Member | None = None
    for step in path.split("."):
        layout = view.layout(current)
        found = layout.members.get(step)
        if found is None:
            raise SymbolTableError(f"type {current} has no member {step}")
        offset += found.offset
        current = found.type_name
    assert found is not None
    return offset, found


def first_member(view: KernelView, type_name: str, *paths: str) -> tuple[str, int, Member]:
    """The first of several alternative member paths that exists (e.g. PoolType /
    PoolFlags, TreeNode.p / TreeNode.Base.p)."""
    for path in paths:
        try:
            offset, found = member(view, type_name, path)
            return path, offset, found
        except SymbolTableError:
            continue
    raise SymbolTableError(f"type {type_name} has none of the members {', '.join(paths)}")


def value_of(data: bytes, offset: int, found: Member, signed: bool = False) -> int:
    """One integer member out of a struct's bytes (bitfields shifted and masked)."""
    raw = int.from_bytes(data[offset:offset + found.size], "little")
    if found.kind == "bitfield":
        return (raw >> found.bit_position) & ((1 << found.bit_length) - 1)
    if signed and raw >= 1 << (8 * found.size - 1):
        raw -= 1 << (8 * found.size)
    return raw


# -- bulk decoding --------------------------------------------------------------------
def columns(view: KernelView, type_name: str, data: bytes | bytearray | np.ndarray,
            count: int, paths: list[str], stride: int | None = None) -> dict[str, np.ndarray]:
    """Decode ``count`` consecutive structs in one numpy pass: path -> uint64 array
    (bitfields shifted and masked to their width; signedness left to the caller, who
    reads a value as signed in its own width if the model says so)."""
    size = stride or view.layout(type_name).size
    raw = np.frombuffer(data, dtype=np.uint8, count=count * size).reshape(count, size) \
        if count else np.zeros((0, size), dtype=np.uint8)
    out: dict[str, np.ndarray] = {}
    for path in paths:
        offset, found = member(view, type_name, path)
        width = found.size
        if found.kind not in ("base", "pointer", "enum", "bitfield") or width not in (1, 2, 4, 8):
            raise SymbolTableError(f"{type_name}.{path} is not an integer member")
        field = np.ascontiguousarray(raw[:, offset:offset + width]).view(f"<u{width}")[:, 0]
        values = field.astype(np.uint64)
        if found.kind == "bitfield":
            values = (values >> np.uint64(found.bit_position)) & np.uint64((1 << found.bit_length) - 1)
        out[path] = values
    return out


def as_signed(values: np.ndarray, bits: int) -> np.ndarray:
    """uint64 values taken mod 2^bits, read as signed bits-wide integers (int64)."""
    values = values.astype(np.uint64, copy=False)
    if bits >= 64:
        return values.view(np.int64)
    mask = np.uint64((1 << bits) - 1)
    low = values & mask
    signed = low.astype(np.int64)
    return np.where(low >= np.uint64(1 << (bits - 1)), signed - np.int64(1 << bits), signed)


# -- bulk table reads -----------------------------------------------------------------
@dataclass(frozen=True)
class TableRead:
    """A table read in bulk: the present entries as contiguous segments, which entries
    are missing, and what was cut. Memory holds only what the dump holds: an absent
    range costs nothing, so a corrupt count cannot make a reader allocate its size."""

    name: str
    address: int
    declared: int  # the entry count the kernel states
    requested: int  # entries read (declared, capped)
    entry_size: int
    segments: tuple[tuple[int, bytes], ...]  # (first entry index, bytes of whole present entries)
    absent: tuple[tuple[int, int], ...]  # entry index ranges [i, j) with a missing byte
    warnings: tuple[str, ...]

    @property
    def read(self) -> int:
        return sum(len(data) // self.entry_size for _, data in self.segments)

    @property
    def extent(self) -> int:
        """Entries up to the end of the last present one (0 when none is present): past
        it every entry is absent, so arrays of this length hold all that was read."""
        if not self.segments:
            return 0
        first, data = self.segments[-1]
        return first + len(data) // self.entry_size

    def valid(self, length: int | None = None) -> np.ndarray:
        """Which entries were read, for the first ``length`` entries (default: all requested)."""
        mask = np.zeros(self.requested if length is None else length, dtype=bool)
        for first, data in self.segments:
            mask[first:first + len(data) // self.entry_size] = True
        return mask

    def pieces(self, max_entries: int = 1 << 20):
        """(first entry index, count, bytes) of the present entries, in pieces of at most
        ``max_entries`` (decode a huge table piece by piece)."""
        for first, data in self.segments:
            count = len(data) // self.entry_size
            for offset in range(0, count, max_entries):
                n = min(max_entries, count - offset)
                start = offset * self.entry_size
                yield first + offset, n, memoryview(data)[start:start + n * self.entry_size]

    def columns(self, view: KernelView, type_name: str, paths: list[str],
                length: int | None = None) -> dict[str, np.ndarray]:
        """The first ``length`` entries decoded (default: every requested one; zeros where
        absent: use :meth:`valid`). ``length`` >= :attr:`extent` loses nothing and keeps
        memory to what the dump holds when a corrupt count requests far more."""
        length = self.requested if length is None else length
        out = {path: np.zeros(length, dtype=np.uint64) for path in paths}
        for first, count, data in self.pieces():
            if first >= length:
                break
            count = min(count, length - first)
            values = columns(view, type_name, data, count, paths, stride=self.entry_size)
            for path in paths:
                out[path][first:first + count] = values[path]
        return out

    def zero_pages(self) -> list[tuple[int, int]]:
        """Entry ranges [i, j) touching an aligned page of the table whose 4 KiB are all
        zero (merged when adjacent): where a page lost or zero-filled by the dump writer
        would show."""
        out: list[tuple[int, int]] = []
        size = self.entry_size
        for first, data in self.segments:
            start = self.address + first * size
            end = start + len(data)
            page = (start + PAGE - 1) & ~(PAGE - 1)
            if page + PAGE > end:
                continue
            count = (end - page) // PAGE
            offset = page - start
            pages = np.frombuffer(data, np.uint8, count=count * PAGE, offset=offset).reshape(count, PAGE)
            for n in np.flatnonzero(~pages.any(axis=1)).tolist():
                lo = page + n * PAGE - self.address
                i, j = lo // size, -(-(lo + PAGE) // size)
                if out and out[-1][1] >= i:
                    out[-1] = (out[-1][0], max(out[-1][1], j))
                else:
                    out.append((i, j))
        return out

    def coverage(self) -> dict:
        return {"name": self.name, "address": self.address, "entries_expected": self.declared,
                "entries_requested": self.requested, "entries_read": self.read,
                "entries_absent": self.requested - self.read,
                "absent_ranges": [[i, j] for i, j in self.absent]}


def read_table(view: KernelView, name: str, address: int, count: int, entry_size: int,
               max_entries: int | None = None) -> TableRead:
    """Read ``count`` entries of ``entry_size`` bytes at ``address`` in large chunks.
    Pages missing from the dump make the entries they touch absent ("table X: entries
    i..j absent from the dump"), never zeros; an absurd count is capped (warning)."""
    warnings: list[str] = []
    limit = MAX_TABLE_BYTES // max(entry_size, 1)
    if max_entries is not None:
        limit = min(limit, max_entries)
    requested = count
    if count < 0:
        warnings.append(f"table {name}: negative entry count {count}; nothing read")
        requested = 0
    elif count > limit:
        warnings.append(f"table {name}: entry count {count:#x} is implausible; only the first "
                        f"{limit:#x} entries were read")
        requested = limit
    per_chunk = max(1, CHUNK_BYTES // entry_size)
    runs: list[tuple[int, list[bytes]]] = []  # present runs: first entry, byte pieces
    absent: list[tuple[int, int]] = []
    for first in range(0, requested, per_chunk):
        n = min(per_chunk, requested - first)
        data, missing = view.read_pages(address + first * entry_size, n * entry_size)
        bad = np.zeros(n, dtype=bool)
        for start, end in missing:
            bad[start // entry_size: -(-end // entry_size)] = True
        for lo, hi in true_runs(~bad):
            piece = bytes(data[lo * entry_size:hi * entry_size])
            if runs and runs[-1][0] + sum(len(p) for p in runs[-1][1]) // entry_size == first + lo:
                runs[-1][1].append(piece)
            else:
                runs.append((first + lo, [piece]))
        for lo, hi in true_runs(bad):
            i, j = first + lo, first + hi
            if absent and absent[-1][1] == i:
                absent[-1] = (absent[-1][0], j)
            else:
                absent.append((i, j))
    merged = tuple((first, pieces[0] if len(pieces) == 1 else b"".join(pieces)) for first, pieces in runs)
    warnings += range_warnings(name, absent, "absent from the dump")
    return TableRead(name, address, count, requested, entry_size, merged, tuple(absent),
                     tuple(warnings))


MAX_RANGE_WARNINGS = 4  # ranges named one by one per table; the rest are summed up


def range_warnings(name: str, ranges, what: str) -> list[str]:
    """``table X: entries i..j <what>`` for the first few ranges, then one line summing
    up the rest (a corrupt count must not flood the report with warnings)."""
    ranges = list(ranges)
    out = [f"table {name}: entries {i}..{j - 1} {what}" for i, j in ranges[:MAX_RANGE_WARNINGS]]
    rest = ranges[MAX_RANGE_WARNINGS:]
    if rest:
        out.append(f"table {name}: {sum(j - i for i, j in rest)} more entries in {len(rest)} further "
                   f"ranges ({rest[0][0]}..{rest[-1][1] - 1}) {what}")
    return out


def true_runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True in a bool array."""
    if not len(mask):
        return []
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


# -- strings --------------------------------------------------------------------------
def read_unicode_string(view: KernelView, address: int) -> str:
    """The text of the UNICODE_STRING at ``address`` (Length bytes of Buffer);
    MemoryAbsent if the string or its buffer is not in the dump."""
    length_off, length_member = member(view, "_UNICODE_STRING", "Length")
    buffer_off, _ = member(view, "_UNICODE_STRING", "Buffer")
    size = view.layout("_UNICODE_STRING").size
    raw = view.read(address, size)
    length = value_of(raw, length_off, length_member) & ~1
    buffer = int.from_bytes(raw[buffer_off:buffer_off + view.pointer_size], "little")
    if length == 0:
        return ""
    if buffer == 0:
        raise MemoryAbsent(0, length)
    return view.read(buffer, min(length, MAX_STRING_BYTES)).decode("utf-16-le", "replace")


def read_c_string(view: KernelView, address: int, limit: int = 0x200) -> str:
    """A NUL-terminated ASCII string (stops at the first absent page)."""
    data, absent = view.read_pages(address, limit)
    if absent:
        data = data[:absent[0][0]]
    return bytes(data).split(b"\0", 1)[0].decode("latin-1")


# Widths of the untyped globals read (a public PDB gives no type; the ISF's own type wins
# when it has one). From ../shared/design/windows-pool-structures.md: "P" = pointer-sized
# (SIZE_T / pointer variables), else bytes.
GLOBAL_WIDTHS = {
    "KeNumberProcessors": 4,  # ULONG (a CCHAR on old kernels: readers keep the low byte) §2.1
    "VfPoolTracesIndex": 4,  # ULONG §3.8
    "VfPoolTracesLength": 4,  # ULONG §3.8
    "ExpPoolBigEntriesInUse": 4,  # ULONG counter, plausibility check only §1.1 [M]
    "PoolHitTag": 4,  # ULONG §4
    "MmSpecialPoolTag": 4,  # ULONG (a pool tag)
    "CmNtCSDVersion": 4,  # ULONG (service pack << 8)
    "PoolBigPageTableSize": "P", "PoolTrackTableSize": "P", "PoolTrackTableMask": "P",
    "PoolTrackTableExpansionSize": "P",  # SIZE_T §1.1 / §2.1
    "MmSizeOfPagedPoolInBytes": "P", "MmMaximumNonPagedPoolInBytes": "P",
    "MmSizeOfNonPagedPoolInBytes": "P",  # SIZE_T
}


def global_width(view: KernelView, name: str) -> int:
    """Width in bytes of a global: its ISF type when the ISF has one, else GLOBAL_WIDTHS."""
    size = view.symbols.symbol_size(name)
    if size in (1, 2, 4, 8):
        return size
    width = GLOBAL_WIDTHS.get(name, "P")
    return view.pointer_size if width == "P" else width


def read_global(view: KernelView, name: str) -> int:
    """An integer global at its width (GLOBAL_WIDTHS / the ISF); MemoryAbsent propagates."""
    return view.read_uint(view.symbol(name), global_width(view, name))


# _POOL_TYPE bits (doc §1.4): PagedPool = 1 is the paged bit; NonPagedPoolSession = 32 /
# PagedPoolSession = 33 give the session bit. Taken from the ISF enum when it has them;
# these are the fallback (the values every build's enum holds).
DEFAULT_PAGED_BIT = 0x1
DEFAULT_SESSION_BIT = 0x20


def pool_type_bits(view: KernelView) -> tuple[int, int]:
    """(paged bit, session bit) of a PoolType value, from the ISF's ``_POOL_TYPE`` enum."""
    constants = view.symbols.enum("_POOL_TYPE")
    paged = constants.get("PagedPool", DEFAULT_PAGED_BIT) or DEFAULT_PAGED_BIT
    session = constants.get("NonPagedPoolSession", DEFAULT_SESSION_BIT) or DEFAULT_SESSION_BIT
    if "PagedPoolSession" in constants and constants["PagedPoolSession"] != session | paged:
        session = DEFAULT_SESSION_BIT  # an enum that does not follow the bit rule: the fallback
    return int(paged), int(session)


def symbol_gap(view: KernelView, name: str) -> int | None:
    """Bytes from a global symbol to the next higher symbol of the symbol table (how
    the public PDB tells the size of an untyped global), or None."""
    symbols = view.symbols.symbols
    if name not in symbols:
        return None
    rva = symbols[name]
    above = [r for r in symbols.values() if r > rva]
    return (min(above) - rva) if above else None
