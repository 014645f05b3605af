"""Finding the inputs of a scan by content: crash dumps and the containers that hold them.

A crash dump starts with 'PAGEDUMP' (32-bit) or 'PAGEDU64' (64-bit) [S9 DUMP_HEADER32/64
Signature + ValidDump, docs/dump-format.md], whatever the file is called. Containers are
recognized by their own magic numbers (zip 'PK\\x03\\x04', 7z '7z\\xBC\\xAF\\x27\\x1C',
cab 'MSCF', gzip 1F 8B, xz FD '7zXZ' 00, bzip2 'BZh', tar 'ustar' at 257), not by suffix.

A file whose name says it is a dump (``*.dmp``) but whose content is not one is reported
(an error row), so that a damaged MEMORY.DMP is not silently passed over; any other file
that is neither a dump nor a container is not an input.
"""
from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ..dumpfile import headers as H
from ..dumpfile.reader import SUPPORTED_DUMP_TYPES

SNIFF_BYTES = 512
DUMP_MAGICS = (H.SIGNATURE + H.VALID_DUMP32, H.SIGNATURE + H.VALID_DUMP64)
CONTAINER_MAGICS = (  # (kind, offset, magic)
    ("zip", 0, b"PK\x03\x04"), ("zip", 0, b"PK\x05\x06"),
    ("7z", 0, b"7z\xbc\xaf\x27\x1c"), ("cab", 0, b"MSCF"),
    ("gz", 0, b"\x1f\x8b"), ("xz", 0, b"\xfd7zXZ\x00"), ("bz2", 0, b"BZh"),
    ("tar", 257, b"ustar"),
)
CONTAINER_KINDS = ("zip", "7z", "cab", "tar", "gz", "xz", "bz2")

# DumpTypes that hold no pool tables [S7 DumpType_t; S10 DUMP_TYPE]: recorded as 'no-pool-data'.
NO_POOL_DATA = {
    3: "a header-only dump: it holds the bug check and no memory, so no pool tables",
    4: "a triage (small memory) dump: it holds the bug check, the loaded-driver list and a few "
       "pages, not the pool tables; set 'Kernel memory dump' (CrashControl CrashDumpEnabled=2) "
       "for the next crash",
    7: "an automatic-dump header without kernel memory pages: no pool tables",
}


def sniff(head: bytes) -> str | None:
    """'dump', a container kind, or None for anything else."""
    if head[:8] in DUMP_MAGICS:
        return "dump"
    for kind, offset, magic in CONTAINER_MAGICS:
        if head[offset:offset + len(magic)] == magic:
            return kind
    return None


def named_like_a_dump(name: str) -> bool:
    return name.lower().endswith(".dmp")


@dataclass(frozen=True)
class Found:
    """A regular file under a scanned root, with what its first bytes say it is."""

    path: Path          # absolute
    root: Path          # the scanned root it was found under (absolute)
    kind: str | None    # 'dump', a container kind, or None (a *.dmp that is no dump)
    size: int
    mtime_ns: int
    error: str | None = None  # the file could not be read


def walk(roots: Iterable[str | os.PathLike]) -> Iterator[Found]:
    """Every input under ``roots`` (files or directories, walked recursively and in sorted
    order; directory symlinks are not followed, FIFOs and devices are skipped)."""
    for given in roots:
        root = Path(os.path.abspath(given))
        if root.is_dir():
            for folder, dirs, files in os.walk(root):
                dirs.sort()
                for name in sorted(files):
                    found = examine(Path(folder) / name, root)
                    if found is not None:
                        yield found
        else:
            found = examine(root, root.parent, explicit=True)
            if found is not None:
                yield found


def examine(path: Path, root: Path, explicit: bool = False) -> Found | None:
    """What ``path`` is as an input, or None when it is none (``explicit``: named on the
    command line, so reported whatever it holds)."""
    try:
        info = path.stat()
    except OSError as exc:
        if explicit:
            return Found(path, root, None, 0, 0, error=f"cannot read: {_reason(exc)}")
        return None
    if not stat.S_ISREG(info.st_mode):
        if explicit:
            return Found(path, root, None, 0, 0, error="not a regular file")
        return None
    try:
        with open(path, "rb") as handle:
            head = handle.read(SNIFF_BYTES)
    except OSError as exc:
        return Found(path, root, None, info.st_size, info.st_mtime_ns, error=f"cannot read: {_reason(exc)}")
    kind = sniff(head)
    if kind is None and not (explicit or named_like_a_dump(path.name)):
        return None
    return Found(path, root, kind, info.st_size, info.st_mtime_ns)


def _reason(exc: OSError) -> str:
    if exc.errno == 40:  # ELOOP
        return "symlink loop"
    return exc.strerror or str(exc)


def not_a_dump_message(head: bytes) -> str:
    return f"not a Windows kernel crash dump: expected 'PAGEDUMP' or 'PAGEDU64' at offset 0, found {head[:8]!r}"


# --------------------------------------------------------------------------------------
# header facts, read without the page map (so that DumpType 3/4/7 dumps get them too)

@dataclass(frozen=True)
class HeaderFacts:
    arch: str                 # 'x64' / 'x86'
    dump_type: int | None
    bugcheck_code: int | None
    system_time: int | None   # FILETIME
    uptime_seconds: int | None

    @property
    def analyzable(self) -> bool:
        return self.dump_type in SUPPORTED_DUMP_TYPES

    @property
    def no_pool_data(self) -> str | None:
        """Why this dump carries no pool data, or None."""
        return NO_POOL_DATA.get(self.dump_type) if self.dump_type is not None else None


def header_facts(head: bytes) -> HeaderFacts | None:
    """The header fields of a dump's first page(s) (None when not a complete header):
    parsed with the declarations of ``dumpfile.headers``, whatever the DumpType."""
    if head[:8] not in DUMP_MAGICS:
        return None
    bits = 64 if head[:8] == DUMP_MAGICS[1] else 32
    size = H.HEADER_SIZE64 if bits == 64 else H.HEADER_SIZE32
    if len(head) < size:
        return None
    parsed = (H.DUMP_HEADER64 if bits == 64 else H.DUMP_HEADER32).parse(head[:size])

    def unset(value: int, pattern: int) -> int | None:
        return None if value == pattern else int(value)

    uptime = unset(parsed.SystemUpTime, H.UNSET64)
    return HeaderFacts(
        arch="x64" if bits == 64 else "x86",
        dump_type=unset(parsed.DumpType, H.UNSET32),
        bugcheck_code=unset(parsed.BugCheckCode, H.UNSET32),
        system_time=unset(parsed.SystemTime, H.UNSET64),
        uptime_seconds=uptime // 10_000_000 if uptime is not None else None)  # 100 ns units [S5]


HEADER_BYTES = H.HEADER_SIZE64


# --------------------------------------------------------------------------------------
# machine identity

class MachinePattern:
    """Machine identity from a path: by default the first folder under the scanned root
    (``ARCHIVE/<machine>/...``); with a regular expression, its named group ``machine``,
    else its first group, else the whole match, searched in the path (and ``!member`` for
    a dump inside a container)."""

    def __init__(self, pattern: str | None = None) -> None:
        self.regex = re.compile(pattern) if pattern else None

    def machine(self, path: Path, root: Path, member: str | None = None) -> str | None:
        if self.regex is None:
            try:
                parts = path.relative_to(root).parts
            except ValueError:
                return None
            return parts[0] if len(parts) > 1 else None
        text = str(path) + (f"!{member}" if member else "")
        match = self.regex.search(text)
        if match is None:
            return None
        if "machine" in match.re.groupindex:
            return match.group("machine")
        return match.group(1) if match.re.groups else match.group(0)
