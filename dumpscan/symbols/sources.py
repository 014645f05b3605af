"""Where a symbol table's bytes come from: a file, a ``file:`` URL, or a member of a zip
symbol pack; plain JSON or compressed with xz, gzip or bzip2.

Volatility3 reads ISFs from the same places (``constants.ISF_EXTENSIONS``: ``.json``,
``.json.xz``, ``.json.gz``, ``.json.bz2``; zip files in a symbol directory, whose members
it names ``jar:file:<zip>!<member>`` (``IntermediateSymbolTable.file_symbol_url``)). The
packs it distributes (``windows.zip``) hold ``windows/<pdb>/<GUID>-<age>.json.xz``.
The compression is told by the data's magic bytes, not by the name.
"""
from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import re
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlparse

from .pe import PdbIdentity

ISF_SUFFIXES = (".json.xz", ".json", ".json.gz", ".json.bz2")  # the order tables are tried in
JAR_PREFIX = "jar:"
MAX_TABLE_BYTES = 1 << 30  # a decompressed ISF larger than this is not read (the biggest kernel's is ~60 MB)

# a pack member named like Volatility's layout: .../<pdb>/<GUID>-<age><suffix>
_MEMBER = re.compile(r"(?:^|/)([^/]+)/([0-9A-Fa-f]{32})-(\d+)(\.json(?:\.xz|\.gz|\.bz2)?)$")


def _inflate_stream(decompressor, raw: bytes) -> bytes:
    """One xz or bzip2 stream, at most MAX_TABLE_BYTES + 1 bytes of it; a stream that
    ends early is corrupt (these decompressors do not raise for it)."""
    out = decompressor.decompress(raw, max_length=MAX_TABLE_BYTES + 1)
    if len(out) <= MAX_TABLE_BYTES and not decompressor.eof:
        raise EOFError("the compressed stream ends early")
    return out


def _inflate_gzip(raw: bytes) -> bytes:
    return gzip.GzipFile(fileobj=io.BytesIO(raw)).read(MAX_TABLE_BYTES + 1)


# magic bytes -> inflate (xz: "FD 37 7A 58 5A 00", gzip: "1F 8B", bzip2: "BZh")
_INFLATE = ((b"\xfd7zXZ\x00", lambda raw: _inflate_stream(lzma.LZMADecompressor(), raw)),
            (b"\x1f\x8b", _inflate_gzip),
            (b"BZh", lambda raw: _inflate_stream(bz2.BZ2Decompressor(), raw)))


def decompress(raw: bytes) -> bytes:
    """``raw`` inflated when it starts with xz, gzip or bzip2 magic, else as it is.

    Raises ValueError for corrupt or truncated data, or more than MAX_TABLE_BYTES of output."""
    for magic, inflate in _INFLATE:
        if not raw.startswith(magic):
            continue
        try:
            out = inflate(raw)
        except (OSError, EOFError, lzma.LZMAError) as exc:
            raise ValueError(f"corrupt compressed data ({exc})") from None
        if len(out) > MAX_TABLE_BYTES:
            raise ValueError(f"more than {MAX_TABLE_BYTES >> 20} MiB once decompressed")
        return out
    return raw


def local_path(location: str | os.PathLike) -> Path:
    """The path of a plain path or a ``file:`` URL (percent-escapes decoded)."""
    text = os.fspath(location)
    if text.startswith("file:"):
        return Path(unquote(urlparse(text).path))
    return Path(text)


def split_jar(location: str) -> tuple[Path, str] | None:
    """(zip path, member) of a ``jar:file:<zip>!<member>`` URL, else None. The zip path
    is taken literally, as Volatility writes and reads it (``file_symbol_url``,
    ``JarHandler``: no percent-escapes)."""
    if not location.startswith(JAR_PREFIX + "file:") or "!" not in location:
        return None
    archive, member = location[len(JAR_PREFIX + "file:"):].rsplit("!", 1)
    return Path(archive), member.lstrip("/")


def jar_url(archive: Path, member: str) -> str:
    """Volatility's name for a member of a zip pack."""
    return f"{JAR_PREFIX}file:{archive.resolve()}!{member}"


def read_location(location: str | os.PathLike) -> bytes:
    """The decompressed bytes of a symbol table at a path, ``file:`` URL or
    ``jar:file:`` URL. Raises OSError (unreadable) or ValueError (corrupt)."""
    text = os.fspath(location)
    jar = split_jar(text)
    if jar is not None:
        archive, member = jar
        try:
            with zipfile.ZipFile(archive) as pack:
                info = pack.getinfo(member)
                if info.file_size > MAX_TABLE_BYTES:
                    raise ValueError(f"{member} is {info.file_size >> 20} MiB")
                raw = pack.read(info)
        except KeyError:
            raise OSError(f"{archive} holds no {member}") from None
        except zipfile.BadZipFile as exc:
            raise OSError(f"{archive}: not a readable zip file ({exc})") from None
    else:
        path = local_path(text)
        if path.stat().st_size > MAX_TABLE_BYTES:
            raise ValueError(f"{path.stat().st_size >> 20} MiB is more than a symbol table holds")
        raw = path.read_bytes()
    return decompress(raw)


# -- zip packs ---------------------------------------------------------------------------
def is_zip_pack(path: Path) -> bool:
    """A zip file (by its content), e.g. Volatility's windows.zip."""
    try:
        return path.is_file() and zipfile.is_zipfile(path)
    except OSError:
        return False


@dataclass(frozen=True)
class ZipPack:
    """The ISF members of one zip pack, by (pdb name lower-cased, GUID, age)."""

    path: Path
    members: dict[tuple[str, str, int], str]

    def find(self, pdb: PdbIdentity) -> str | None:
        """The ``jar:file:`` URL of the member for ``pdb``, or None."""
        member = self.members.get((pdb.name.lower(), pdb.guid.upper(), pdb.age))
        return jar_url(self.path, member) if member else None


_PACKS: dict[tuple[str, int, int], ZipPack] = {}
_PACKS_LOCK = threading.Lock()
MAX_PACKS_CACHED = 16


def zip_pack(path: Path) -> ZipPack:
    """The index of a zip pack (its central directory read once per file version).

    Raises OSError when the file is not a readable zip."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size)
    with _PACKS_LOCK:
        cached = _PACKS.get(key)
    if cached is not None:
        return cached
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except zipfile.BadZipFile as exc:
        raise OSError(f"{path}: not a readable zip file ({exc})") from None
    members: dict[tuple[str, str, int], str] = {}
    rank: dict[tuple[str, str, int], int] = {}
    for name in names:
        match = _MEMBER.search(name)
        if not match:
            continue
        pdb, guid, age, suffix = match.groups()
        key_ = (pdb.lower(), guid.upper(), int(age))
        order = ISF_SUFFIXES.index(suffix)
        if key_ not in members or order < rank[key_]:
            members[key_], rank[key_] = name, order
    pack = ZipPack(path.resolve(), members)
    with _PACKS_LOCK:
        if len(_PACKS) >= MAX_PACKS_CACHED:
            _PACKS.clear()
        _PACKS[key] = pack
    return pack


def packs_in(directory: Path) -> list[Path]:
    """The zip packs directly in a symbol directory (``windows.zip``: one listing, never
    a recursive search)."""
    try:
        return sorted(p for p in directory.iterdir() if p.suffix.lower() == ".zip" and is_zip_pack(p))
    except OSError:
        return []
