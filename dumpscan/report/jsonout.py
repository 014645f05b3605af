"""Write a report as JSON, streamed, with bounded memory and the C encoder's speed.

``json.dumps(report, indent=1)`` runs Python's pure-Python encoder (the C encoder is
used only without ``indent``) and joins one small string per token: on a dump with a
million big-pool rows that is tens of millions of strings, gigabytes of memory and
seconds of CPU before the first byte is written.

:func:`write` produces the same text, byte for byte, as ``json.dumps(obj, indent=indent)``
(default separators, ``ensure_ascii``), but encodes every *flat* container (one whose
values are all scalars, such as a big-pool row) in one call of the C encoder, whose item
separator carries the line break and indentation, and writes to the stream in batches.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from json.encoder import c_make_encoder, encode_basestring_ascii
from typing import IO, Any

SCALARS = (str, int, float, bool, type(None))
BATCH = 1 << 16  # characters gathered before a write


CONTAINERS = frozenset({dict, list, tuple})


def _flat(value: Any) -> bool:
    """No container among the values (types compared exactly: one C-level pass)."""
    values = value.values() if isinstance(value, dict) else value
    return CONTAINERS.isdisjoint(map(type, values))


def _encoder(indent: int, level: int):
    """encode(obj) -> str of a flat container, items separated by a line break and the
    indentation of ``level + 1`` (the C encoder, built once per level)."""
    inner = "\n" + " " * (indent * (level + 1))
    if c_make_encoder is None:  # pragma: no cover - CPython always has it
        return json.JSONEncoder(separators=("," + inner, ": ")).encode
    iterencode = c_make_encoder(None, _no_default, encode_basestring_ascii, None, ": ", "," + inner,
                                False, False, True)
    return lambda obj: "".join(iterencode(obj, 0))


def _no_default(obj: Any):
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def iter_json(obj: Any, indent: int = 1, level: int = 0, _encoders: dict | None = None) -> Iterator[str]:
    """The pieces of ``json.dumps(obj, indent=indent)``, container by container."""
    encoders = {} if _encoders is None else _encoders
    if isinstance(obj, SCALARS):
        yield json.dumps(obj)
        return
    outer = "\n" + " " * (indent * level)
    inner = "\n" + " " * (indent * (level + 1))
    if isinstance(obj, dict):
        if not obj:
            yield "{}"
            return
        if _flat(obj):
            encoder = encoders.get(level) or encoders.setdefault(level, _encoder(indent, level))
            text = encoder(obj)
            yield "{" + inner + text[1:-1] + outer + "}"
            return
        yield "{"
        first = True
        for key, value in obj.items():
            yield (inner if first else "," + inner) + json.dumps(_key(key)) + ": "
            first = False
            yield from iter_json(value, indent, level + 1, encoders)
        yield outer + "}"
        return
    if isinstance(obj, (list, tuple)):
        if not obj:
            yield "[]"
            return
        if _flat(obj):
            encoder = encoders.get(level) or encoders.setdefault(level, _encoder(indent, level))
            text = encoder(list(obj))
            yield "[" + inner + text[1:-1] + outer + "]"
            return
        yield "["
        first = True
        row_encoder = None
        deeper = "\n" + " " * (indent * (level + 2))
        for value in obj:
            separator = inner if first else "," + inner
            first = False
            if type(value) is dict and value and _flat(value):  # a table row: the hot path
                if row_encoder is None:
                    row_encoder = encoders.get(level + 1) or encoders.setdefault(
                        level + 1, _encoder(indent, level + 1))
                yield separator + "{" + deeper + row_encoder(value)[1:-1] + inner + "}"
                continue
            yield separator
            yield from iter_json(value, indent, level + 1, encoders)
        yield outer + "]"
        return
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


def _key(key: Any) -> str:
    """Dict keys the way json.dumps converts them."""
    if isinstance(key, str):
        return key
    if key is True:
        return "true"
    if key is False:
        return "false"
    if key is None:
        return "null"
    if isinstance(key, (int, float)):
        return json.dumps(key)
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def write(obj: Any, stream: IO[str], indent: int = 1) -> None:
    """Write ``json.dumps(obj, indent=indent)`` to ``stream`` in batches (no trailing newline)."""
    batch: list[str] = []
    size = 0
    for piece in iter_json(obj, indent):
        batch.append(piece)
        size += len(piece)
        if size >= BATCH:
            stream.write("".join(batch))
            batch, size = [], 0
    if batch:
        stream.write("".join(batch))


def dumps(obj: Any, indent: int = 1) -> str:
    """``json.dumps(obj, indent=indent)``, faster and leaner on reports with big tables."""
    return "".join(iter_json(obj, indent))
