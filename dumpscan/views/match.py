"""Matching tags and drivers against ``--tag`` / ``--driver`` patterns (fnmatch wildcards).

Pool tags are four characters and case-sensitive; a shorter tag is padded with spaces
(``'Irp '``), and so is a shorter pattern without ``*``, as ``!poolused`` pads its tag
argument: ``Irp`` matches ``'Irp '``. Driver patterns match a module name in any case,
with or without its extension (``myfault`` and ``MyFault.sys`` match ``myfault.sys``).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from fnmatch import fnmatchcase

TAG_LENGTH = 4


def pad_tag(tag: str) -> str:
    return (tag or "").ljust(TAG_LENGTH)


def tag_matcher(patterns: Iterable[str] | str | None) -> Callable[[str], bool]:
    """A predicate over pool tags; None or no patterns match every tag."""
    if isinstance(patterns, str):
        patterns = [patterns]
    padded = [p if "*" in p else pad_tag(p) for p in patterns or ()]
    if not padded:
        return lambda tag: True
    return lambda tag: any(fnmatchcase(pad_tag(tag), p) for p in padded)


def driver_matcher(patterns: Iterable[str] | str | None) -> Callable[[str], bool]:
    """A predicate over driver names; None or no patterns match every name."""
    if isinstance(patterns, str):
        patterns = [patterns]
    lowered = [p.lower() for p in patterns or ()]
    if not lowered:
        return lambda name: True

    def match(name: str) -> bool:
        name = (name or "").lower()
        stem = name.rsplit(".", 1)[0]
        return any(fnmatchcase(name, p) or ("." not in p and fnmatchcase(stem, p)) for p in lowered)

    return match


def owners_matcher(patterns: Iterable[str] | str | None) -> Callable[[Iterable[str]], bool]:
    """``--driver`` over a row's owners (driver names): True when one of them matches; None
    or no patterns keep every row, even one without owners."""
    if not patterns:
        return lambda names: True
    match = driver_matcher(patterns)
    return lambda names: any(match(n) for n in names)


def enough(nbytes: int, min_bytes: int) -> bool:
    """``--min-bytes``: 0 (the default) keeps every row, even a negative (corrupt) total."""
    return min_bytes <= 0 or nbytes >= min_bytes
