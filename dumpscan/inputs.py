"""What a path given as a dump is, checked before anything opens it, and how a path is
shown in a one-line message.

Opening a FIFO with no writer blocks forever, and a device or socket is no dump, so only
regular files (symbolic links followed) are analyzed; each other kind gets its own
one-line reason, a symbolic-link loop included (``os.stat`` fails with ELOOP, which
``Path.exists`` reports as plain absence).
"""
from __future__ import annotations

import errno
import os
import stat

KIND_NAMES = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
              (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
              (stat.S_ISBLK, "a block device"))


def input_problem(path: str | os.PathLike) -> str | None:
    """Why ``path`` cannot be read as a dump file (one line), or None for a regular file."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symlink loop (too many levels of symbolic links)"
        if exc.errno in (errno.ENOENT, errno.ENOTDIR):
            return "no such file"
        return exc.strerror or f"cannot read its status (errno {exc.errno})"
    if stat.S_ISREG(mode):
        return None
    kind = next((name for test, name in KIND_NAMES if test(mode)), "not a regular file")
    if kind == "a directory":
        return "is a directory, not a dump file"
    return f"is {kind}, not a regular file: not read"


def display_path(path: str | os.PathLike) -> str:
    """``path`` as text for a one-line message: as it is when every character prints,
    else quoted with Python's escapes (a newline as \\n, an undecodable byte as \\udcNN),
    so that a file name can never split or forge a line of output."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        text = os.fsdecode(text)
    return text if text.isprintable() else repr(text)
