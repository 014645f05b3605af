"""The members of compressed containers, streamed to temporary files under limits.

zip, 7z, cab and tar (plain or compressed) are read with libarchive (the ``libarchive-c``
binding of the system's libarchive); a single compressed stream (.gz, .xz, .bz2) with the
standard library's ``gzip``/``lzma``/``bz2``. Nothing is ever extracted by its stored name:
a member is streamed into a file of our own naming in a private temporary folder, never
next to the archive, and deleted after its analysis.

Refused, each as one-line :class:`MemberRefused`:

* a member name that escapes the archive ("zip slip": an absolute path, a drive letter, a
  ``..`` component);
* a decompression bomb: a member whose declared or streamed size passes the disk quota
  (``--tmp-quota``), or that expands to more than ``max_ratio`` times the container's
  size once past :data:`RATIO_FLOOR` bytes (real dumps compress well, since zero pages do,
  so a small member may have a large ratio);
* a member larger than the free space of the temporary folder.
"""
from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

from .discover import SNIFF_BYTES, sniff
from .limits import Limits

STREAM_KINDS = {"gz": gzip.open, "xz": lzma.open, "bz2": bz2.open}
STREAM_SUFFIXES = {"gz": (".gz", ".gzip"), "xz": (".xz",), "bz2": (".bz2",)}
CHUNK = 1 << 20
RATIO_FLOOR = 64 << 20
TEMP_PREFIX = "dumpscan-scan-"


class ContainerError(Exception):
    """A container that cannot be read (one line)."""


class MemberRefused(ContainerError):
    """A member refused before or while streaming it (zip slip, bomb, quota)."""


@dataclass(frozen=True)
class Member:
    name: str
    size: int | None       # declared size (None: unknown until streamed)
    mtime_ns: int | None


def unsafe_name(name: str) -> str | None:
    """Why a member name escapes the archive, or None when it is safe."""
    if not name:
        return "empty member name"
    if name.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", name):
        return f"absolute member path {name!r} (path traversal)"
    if ".." in re.split(r"[\\/]+", name):
        return f"member path {name!r} leaves the archive (path traversal)"
    return None


def stream_kind_of(path: Path, kind: str) -> str:
    """A .gz/.xz/.bz2 that holds a tar is read as a tar (libarchive undoes the compression)."""
    if kind not in STREAM_KINDS:
        return kind
    try:
        with STREAM_KINDS[kind](path, "rb") as stream:
            head = stream.read(SNIFF_BYTES)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        raise ContainerError(f"cannot read the {kind} stream: {_text(exc)}") from None
    return "tar" if sniff(head) == "tar" else kind


def _libarchive():
    """The libarchive binding, or a ContainerError saying what to install."""
    try:
        import libarchive
    except (ImportError, OSError, AttributeError) as exc:
        raise ContainerError(f"reading zip/7z/cab/tar needs libarchive (pip: libarchive-c; Debian: "
                             f"apt-get install libarchive13): {_text(exc)}") from None
    return libarchive


def list_members(path: Path, kind: str) -> list[Member]:
    """The regular-file members of a container (names as stored; unsafe ones included, so
    that they can be reported)."""
    kind = stream_kind_of(path, kind)
    if kind in STREAM_KINDS:
        return [Member(_stream_member_name(path, kind), None, path.stat().st_mtime_ns)]
    libarchive = _libarchive()

    members = []
    try:
        with libarchive.file_reader(str(path)) as archive:
            for entry in archive:
                if entry.isfile:
                    mtime = entry.mtime
                    members.append(Member(entry.pathname, entry.size,
                                          int(mtime * 1_000_000_000) if mtime is not None else None))
    except libarchive.ArchiveError as exc:
        raise ContainerError(f"cannot read the {kind} archive: {_text(exc)}") from None
    return members


def _stream_member_name(path: Path, kind: str) -> str:
    name = path.name
    for suffix in STREAM_SUFFIXES[kind]:
        if name.lower().endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return name


STREAM_ERRORS = (EOFError, lzma.LZMAError, OSError, ValueError)


@contextmanager
def member_blocks(path: Path, kind: str, member: str) -> Iterator[tuple[int | None, Iterator[bytes]]]:
    """(declared size, blocks of the member's bytes) of ``member`` of a container; a read
    error, opening or while iterating the blocks, is a ContainerError."""
    kind = stream_kind_of(path, kind)
    if kind in STREAM_KINDS:
        with STREAM_KINDS[kind](path, "rb") as stream:
            yield None, _guarded(iter(lambda: stream.read(CHUNK), b""), kind, STREAM_ERRORS)
        return
    libarchive = _libarchive()
    errors = (libarchive.ArchiveError, OSError)
    with ExitStack() as stack:
        try:
            archive = stack.enter_context(libarchive.file_reader(str(path)))
        except errors as exc:
            raise ContainerError(f"cannot read the {kind} container: {_text(exc)}") from None
        for entry in _guarded(iter(archive), kind, errors):
            if entry.isfile and entry.pathname == member:
                yield entry.size, _guarded(entry.get_blocks(CHUNK), kind, errors)
                return
    raise ContainerError(f"no member {member!r} in the archive (changed since it was listed?)")


def _guarded(items: Iterator, kind: str, errors: tuple) -> Iterator:
    try:
        yield from items
    except errors as exc:
        raise ContainerError(f"cannot read the {kind} container: {_text(exc)}") from None


def stream_to_file(blocks: Iterator[bytes], first: bytes, declared: int | None, target: Path,
                   container_size: int, limits: Limits) -> int:
    """Write ``first`` then the rest of ``blocks`` to ``target`` under ``limits``; the
    number of bytes written. Raises MemberRefused (the partial file is removed)."""
    if declared is not None and declared > limits.quota:
        raise MemberRefused(f"refused: the member declares {declared} bytes, more than the "
                            f"temporary-space quota of {limits.quota} (decompression bomb?)")
    free = shutil.disk_usage(target.parent).free
    if declared is not None and declared > free:
        raise MemberRefused(f"refused: the member needs {declared} bytes, the temporary folder "
                            f"{target.parent} has {free} free")
    written = 0
    try:
        with open(target, "xb") as out:
            for block in _chain(first, blocks):
                written += len(block)
                if written > limits.quota:
                    raise MemberRefused(f"refused: the member expands past the temporary-space "
                                        f"quota of {limits.quota} bytes (decompression bomb?)")
                if written > RATIO_FLOOR and written > limits.max_ratio * max(container_size, 1):
                    raise MemberRefused(f"refused: the member expands to more than {limits.max_ratio:g} "
                                        f"times the container's {container_size} bytes "
                                        f"(decompression bomb)")
                out.write(block)
    except BaseException:
        target.unlink(missing_ok=True)
        raise
    return written


def _chain(first: bytes, blocks: Iterator[bytes]) -> Iterator[bytes]:
    if first:
        yield first
    yield from blocks


def read_head(blocks: Iterator[bytes], size: int) -> bytes:
    """At least ``size`` bytes from the start of ``blocks`` (fewer only at its end)."""
    head = b""
    for block in blocks:
        head += block
        if len(head) >= size:
            break
    return head


# --------------------------------------------------------------------------------------
# the private temporary folders of the workers

def private_folder(tmp_dir: Path | None) -> Path:
    """A new folder for one worker process's extracted members (named with its pid, so that
    a later scan can remove what a killed worker left)."""
    base = Path(tmp_dir) if tmp_dir else Path(tempfile.gettempdir())
    base.mkdir(parents=True, exist_ok=True)
    sweep_stale(base)
    return Path(tempfile.mkdtemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=base))


def sweep_stale(base: Path) -> None:
    """Remove the folders of dead scan workers on this machine (left by ``kill -9``)."""
    try:
        candidates = list(base.glob(f"{TEMP_PREFIX}*-*"))
    except OSError:
        return
    for folder in candidates:
        pid_text = folder.name[len(TEMP_PREFIX):].split("-", 1)[0]
        if not pid_text.isdigit() or _alive(int(pid_text)):
            continue
        shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
