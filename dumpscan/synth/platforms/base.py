"""The shape of a platform description: the facts the factory builds a dump from.

A platform module (one per Windows build) declares its kernel's PDB identity, the
type layouts and global-symbol RVAs the factory writes, and the function symbols
used for call stacks. Every number in a platform module carries its source in a
comment; the factory never invents an offset outside these tables.

Type notation (a compact spelling of Volatility ISF types)
----------------------------------------------------------
``u8 u16 u32 u64``      unsigned char/short/long/long long (ISF base names)
``i8 i16 i32 i64``      char/short/long/long long
``wchar``, ``void``     as in the ISF
``ptr``                 pointer to void; ``ptr:_X`` pointer to struct ``_X``;
                        ``ptr:u16`` pointer to a base type
``_X``                  an embedded struct or union ``_X`` (must be declared)
``enum:_X``             an enum declared in ``enums``
``T[N]``                an array of N elements of T (``u64[13]``, ``ptr[50]``)
``u32{8:12}``           a bitfield of the base type: bit position 8, length 12
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Struct:
    """A struct or union layout: total size and fields as name -> (offset, type)."""

    size: int
    fields: dict[str, tuple[int, str]]
    kind: str = "struct"  # or "union"


@dataclass(frozen=True)
class Enum:
    """An enum: base type (ISF base name spelling, e.g. ``u32``) and its constants."""

    base: str
    constants: dict[str, int]


@dataclass(frozen=True)
class Function:
    """A kernel function symbol: RVA and how many bytes follow it before the next
    symbol of the real symbol table (so that ``name+off`` with ``off < extent``
    symbolizes identically with the real table)."""

    rva: int
    extent: int


@dataclass(frozen=True)
class Platform:
    """Everything the factory needs to know about one Windows kernel build."""

    name: str  # short id, e.g. "win10-x64-19041"
    description: str  # e.g. "Windows 10 x64 10.0.19041.450"
    machine: str  # "x64" or "x86"
    pae: bool
    pdb_name: str  # e.g. "ntkrnlmp.pdb"
    guid: str  # 32 upper-case hex digits
    age: int
    version: tuple[int, int, int, int]  # major, minor, build, revision
    real_symbols: bool  # True when GUID/age name a real Microsoft build
    kernel_image_size: int  # SizeOfImage of the kernel
    types: dict[str, Struct]
    enums: dict[str, Enum]
    symbols: dict[str, int]  # global data symbol -> RVA
    functions: dict[str, Function]  # function symbol -> RVA and extent
    # Counts that the public symbols only give indirectly (symbol spacing):
    tag_table_slots: int  # number of ExPoolTagTables pointer slots
    kdbg_size: int  # KDDEBUGGER_DATA64 Header.Size written by this build
    sources: tuple[str, ...] = field(default=())

    @property
    def pointer_size(self) -> int:
        return 8 if self.machine == "x64" else 4
