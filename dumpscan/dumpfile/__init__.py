"""Windows kernel crash-dump containers: headers and the physical page map, read and write.

This package knows nothing of Volatility or of pool structures.

Reading::

    with open_dump("MEMORY.DMP") as dump:
        dump.header.dtb, dump.header.bugcheck_code
        dump.read_physical(0x1ab000, 16)      # PageNotPresent if a page is absent
        for first_pfn, count, file_offset in dump.iter_runs(): ...

Triage ("small memory", DumpType 4) dumps hold no pages: ``open_triage(path)`` reads
their bug check, driver list and data blocks; ``write_triage_dump`` writes one.

Writing::

    write_dump("out.dmp", DumpSpec(machine="x64", dump_type=5, bitmap_pages=1 << 20, ...),
               ((pfn, page_bytes) for pfn in sorted_pfns))

Field-by-field sources: docs/dump-format.md.
"""
from .errors import DumpError, DumpFormatError, DumpReadError, PageNotPresent
from .reader import SUPPORTED_DUMP_TYPES, CrashDump, DumpHeader, open_dump
from .triage import TriageDriver, TriageDump, is_triage_dump, open_triage
from .writer import WRITER_DUMP_TYPES, DumpSpec, TriageDriverSpec, TriageSpec, write_dump, write_triage_dump

PAGE_SIZE = 0x1000

__all__ = [
    "PAGE_SIZE",
    "CrashDump",
    "DumpError",
    "DumpFormatError",
    "DumpHeader",
    "DumpReadError",
    "DumpSpec",
    "PageNotPresent",
    "SUPPORTED_DUMP_TYPES",
    "WRITER_DUMP_TYPES",
    "open_dump",
    "write_dump",
    "TriageDriver",
    "TriageDriverSpec",
    "TriageDump",
    "TriageSpec",
    "is_triage_dump",
    "open_triage",
    "write_triage_dump",
]
