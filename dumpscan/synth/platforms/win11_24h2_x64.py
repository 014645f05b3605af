"""A synthetic Windows 11 24H2 x64 kernel (ntkrnlmp.pdb, 10.0.26100).

No symbol table for a 24H2 kernel is available to this project, so this platform is
SYNTHETIC: ``real_symbols=False``, the GUID is made up ("D5CA" = dumpscan, build 26100),
and the layouts are MODEL unless a comment cites a public source.

Public facts looked for (Vergilius Project 24H2 pages for _POOL_TRACKER_BIG_PAGES,
_POOL_TRACKER_TABLE, _MM_DRIVER_VERIFIER_DATA, _VF_TARGET_VERIFIED_DRIVER_DATA,
_VF_POOL_TRACE; GitHub code/issue search for "PoolFlags" in _POOL_TRACKER_BIG_PAGES): none
were found in the stored public material searched. Therefore:

* every type is the Windows 11 22000.1516 layout, read from the real ISF
  JPCERTCC/Windows-Symbol-Tables 0B0A89438BE7729EB33FD00A7D6FA816-1 (S1) [MODEL for 24H2];
* the one 24H2 change applied is the brief's: ``_POOL_TRACKER_BIG_PAGES.PoolType`` is
  renamed ``PoolFlags`` (same 12-bit field at bit 8 of the dword at 0xC) and
  ``ProcessBilled`` stays at 0x18 [MODEL: not confirmed by a public layout];
* global and function RVAs are the 22000.1516 RVAs + 0x40000 (chosen), so every spacing
  fact of the real build (pointer variables, ExPoolTagTables 2048 slots, KDBG gap 0x380)
  carries over; function extents are the 22000.1516 ones (MODEL);
* the set of globals/functions is the 22000.1516 set (MODEL).
"""
from dataclasses import replace

from dumpscan.synth.platforms.base import Function, Struct
from dumpscan.synth.platforms.win11_x64 import PLATFORM as WIN11_22000

RVA_SHIFT = 0x40000  # chosen


def _rename_pool_type(struct: Struct) -> Struct:
    """``PoolType`` becomes ``PoolFlags``: same 12-bit field at bit 8 of the dword at 0xC."""
    fields = {("PoolFlags" if name == "PoolType" else name): spec
              for name, spec in struct.fields.items()}
    return replace(struct, fields=fields)


PLATFORM = replace(
    WIN11_22000,
    name="win11-24h2-x64",
    description="Windows 11 24H2 x64 10.0.26100.1 (synthetic symbols)",
    guid="D5CA0000000000000000000000026100",  # chosen: synthetic, valid 32 upper-hex digits
    age=1,  # chosen
    version=(10, 0, 26100, 1),  # 24H2 = build 26100 (public); revision 1 chosen
    real_symbols=False,
    kernel_image_size=WIN11_22000.kernel_image_size + RVA_SHIFT,
    types={**WIN11_22000.types,
           "_POOL_TRACKER_BIG_PAGES": _rename_pool_type(WIN11_22000.types["_POOL_TRACKER_BIG_PAGES"])},
    symbols={name: rva + RVA_SHIFT for name, rva in WIN11_22000.symbols.items()},
    functions={name: Function(fn.rva + RVA_SHIFT, fn.extent)
               for name, fn in WIN11_22000.functions.items()},
    sources=WIN11_22000.sources + ("MODEL: 24H2 = 22000.1516 layouts, PoolType renamed PoolFlags, "
                                   "RVAs + 0x40000",),
)
