"""What decides whether a dump was already scanned.

A file is unchanged when its size and modification time (ns) equal the index's: the
cheap test that makes a re-scan of an unchanged archive do no analysis and read no dump.
When they differ, the fingerprint (size and a BLAKE2b hash of the first
:data:`HEAD_BYTES`: the dump header, the page map and the first pages) decides: a file
only touched or copied keeps its analysis; any other change is analyzed again.

A dump inside a container is fingerprinted from its streamed bytes the same way, and is
unchanged when its stored size and time (from the container's directory) are.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

HEAD_BYTES = 1 << 18


class HeadHasher:
    """The fingerprint of a byte stream fed in blocks (only the first HEAD_BYTES are hashed)."""

    def __init__(self) -> None:
        self.hash = hashlib.blake2b(digest_size=16)
        self.size = 0

    def update(self, block: bytes) -> None:
        missing = HEAD_BYTES - min(self.size, HEAD_BYTES)
        if missing:
            self.hash.update(block[:missing])
        self.size += len(block)

    def hexdigest(self) -> str:
        return f"{self.size}:{self.hash.hexdigest()}"


def file_fingerprint(path: Path) -> str:
    """'<size>:<blake2b of the first 256 KiB>' of a file."""
    hasher = HeadHasher()
    with open(path, "rb") as handle:
        hasher.update(handle.read(HEAD_BYTES))
        handle.seek(0, 2)
        hasher.size = handle.tell()
    return hasher.hexdigest()
