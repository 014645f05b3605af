"""Every option a view or an analysis takes, declared once: name, type, default, help,
and which front ends offer it. The ``dumpscan`` command makes click options of them
(``dumpscan.cli.view_option``), the Volatility plugins make requirements of them
(``dumpscan.vol.grid.requirements``); both hand the raw values to :meth:`Query.from_values`,
so names, defaults, help and validation agree by construction.

One name per option: ``--tag`` (repeatable in the command; a space-separated list after
the plugin name in ``vol``; commas separate too), ``--driver``, ``--min-bytes``,
``--sort``, ``--top``, ``--address``, ``--suspects-only``, ``--threshold``,
``--pooltag``, ``--dtb``, ``--kernel-base``.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

T = TypeVar("T")

SORTS = ("nonpaged", "paged", "total", "allocs", "tag")

# kinds: patterns (list of str), int, choice, address, flag, pairs (KEY=VALUE list), path
OPTION_KINDS = ("patterns", "int", "choice", "address", "flag", "pairs", "path")


class OptionError(ValueError):
    """A bad option value; the message is one line and names the option (``--top: ...``)."""


@dataclass(frozen=True)
class Option:
    """One option. ``name`` is the Python name (``min_bytes``); :attr:`flag` the command
    line spelling (``--min-bytes``, also the Volatility requirement name without dashes).
    ``frontends``: where it is offered (``cli``, ``vol``)."""

    name: str
    kind: str
    help: str
    default: Any = None
    choices: tuple[str, ...] = ()
    metavar: str | None = None
    minimum: int | None = None
    frontends: tuple[str, ...] = ("cli", "vol")

    def __post_init__(self) -> None:
        if self.kind not in OPTION_KINDS:
            raise ValueError(f"option {self.name}: unknown kind {self.kind!r}")

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def vol_name(self) -> str:
        return self.name.replace("_", "-")

    def parse(self, raw: Any) -> Any:
        """The option's value from what a front end collected (a click tuple, a Volatility
        list, a string, a number); None or empty gives the default. Raises OptionError."""
        if raw is None or raw == () or raw == [] or raw == "":
            return self.default
        try:
            return _PARSERS[self.kind](self, raw)
        except OptionError:
            raise
        except (ValueError, TypeError) as exc:
            raise OptionError(f"{self.flag}: {exc}") from None


def _split(raw: Any) -> tuple[str, ...]:
    items = [raw] if isinstance(raw, str) else list(raw)
    return tuple(p.strip() for item in items for p in str(item).split(",") if p.strip())


def _int(option: Option, raw: Any) -> int:
    if isinstance(raw, bool):
        raise ValueError(f"not a number: {raw!r}")
    value = int(raw)
    if option.minimum is not None and value < option.minimum:
        raise OptionError(f"{option.flag}: {value} is below {option.minimum}")
    return value


def _choice(option: Option, raw: Any) -> str:
    value = str(raw)
    if value not in option.choices:
        raise OptionError(f"{option.flag}: {value!r} is not one of {', '.join(option.choices)}")
    return value


def parse_address(text: str | int) -> int:
    """An address as the debugger takes it: ``0x9ca00000``, ``9ca00000``,
    ``fffff800`016530fc`` (hex with or without 0x, backticks ignored)."""
    if isinstance(text, int) and not isinstance(text, bool):
        if text < 0 or text >= 1 << 64:
            raise ValueError(f"not an address: {text:#x}")
        return text
    cleaned = str(text).strip().replace("`", "").replace("_", "")
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or not re.fullmatch(r"[0-9a-fA-F]+", cleaned) or len(cleaned) > 16:
        raise ValueError(f"not an address: {text!r} (hex, e.g. 0x9ca00000 or fffff800`016530fc)")
    return int(cleaned, 16)


def _pairs(option: Option, raw: Any) -> tuple[tuple[str, str], ...]:
    out = []
    for item in _split(raw):
        if "=" not in item:
            raise OptionError(f"{option.flag}: {item!r}: expected KEY=VALUE")
        key, value = item.split("=", 1)
        out.append((key.strip(), value.strip()))
    return tuple(out)


_PARSERS = {
    "patterns": lambda option, raw: _split(raw),
    "int": _int,
    "choice": _choice,
    "address": lambda option, raw: parse_address(raw),
    "flag": lambda option, raw: bool(raw),
    "pairs": _pairs,
    "path": lambda option, raw: str(raw),
}

THRESHOLD_KEYS = ("min_bytes, min_outstanding, max_free_ratio, call_site_share, driver_share, "
                  "bigpool_share, growth_min_bytes, growth_min_count, top_n, exit_min_bytes, "
                  "exit_severity")

OPTIONS: dict[str, Option] = {option.name: option for option in (
    Option("tag", "patterns", default=(), metavar="PATTERN",
           help="Only pool tags matching PATTERN (wildcards * ? [seq], case-sensitive; a tag "
                "shorter than 4 characters is padded with spaces as !poolused pads it: Irp = "
                "'Irp '); repeatable, commas also separate."),
    Option("driver", "patterns", default=(), metavar="NAME",
           help="Only the tags, allocations, call sites and drivers of this driver (myfault, "
                "MyFault.sys, my*; any case); repeatable, commas also separate."),
    Option("min_bytes", "int", default=0, minimum=0, metavar="N",
           help="Hide rows with fewer bytes (0: show every row)."),
    Option("sort", "choice", choices=SORTS,
           help="Order by nonpaged/paged/total bytes, allocs (outstanding allocations) or tag "
                "name (default: the view's own order: suspects by severity, tables by total bytes)."),
    Option("top", "int", minimum=1, metavar="N",
           help="Show only the first N rows (default: every row; in the leak report, diff and "
                "series the thresholds' top_n, 20; in the trace log the 20 newest records)."),
    Option("address", "address", metavar="ADDR",
           help="A pool block's address (0x9ca00000, fffff800`016530fc): its allocate/free "
                "history (!verifier 80 ADDR); with the blocks view, the pool block that "
                "contains it and its neighbours (!pool ADDR)."),
    Option("suspects_only", "flag", default=False,
           help="Only the suspects (not the top tags that no rule flags)."),
    Option("threshold", "pairs", default=(), metavar="KEY=VALUE",
           help=f"Override a suspect threshold ({THRESHOLD_KEYS}); repeatable."),
    Option("pooltag", "path", metavar="FILE",
           help="A pooltag.txt ('Tag - driver.sys - description' lines) naming tag owners."),
    Option("dtb", "address", metavar="ADDR", frontends=("cli",),
           help="The kernel's page-table base (DirectoryTableBase) when the dump header's is "
                "wrong or missing (e.g. 0x1ad000)."),
    Option("kernel_base", "address", metavar="ADDR", frontends=("cli",),
           help="The kernel image's base address when the dump header leads to none "
                "(e.g. fffff800`01600000)."),
)}


@dataclass(frozen=True)
class Query:
    """The filter values a view gets (every field defaults to "no filter")."""

    tag: tuple[str, ...] = ()
    driver: tuple[str, ...] = ()
    min_bytes: int = 0
    sort: str | None = None
    top: int | None = None
    address: int | None = None
    suspects_only: bool = False
    threshold: tuple[tuple[str, str], ...] = ()

    @classmethod
    def from_values(cls, values: Mapping[str, Any], names: Iterable[str] | None = None) -> "Query":
        """A query from raw front-end values keyed by option name (``min_bytes`` or
        ``min-bytes``); only ``names`` when given. Raises OptionError (one line)."""
        wanted = set(names) if names is not None else None
        parsed = {}
        for f in fields(cls):
            if wanted is not None and f.name not in wanted:
                continue
            raw = values.get(f.name, values.get(f.name.replace("_", "-")))
            parsed[f.name] = OPTIONS[f.name].parse(raw)
        return cls(**parsed)

    def limit(self, rows: list[T], default: int | None = None) -> list[T]:
        """The first ``top`` of ``rows``; without ``--top`` the first ``default`` (None: all)."""
        top = self.top if self.top is not None else default
        return rows[:top] if top is not None else rows

    def thresholds(self):
        """The suspect thresholds (:class:`dumpscan.analysis.leaks.Thresholds`), with
        ``top`` as ``top_n`` unless a threshold sets it. Raises OptionError."""
        from ..analysis.leaks import Thresholds

        values = dict(self.threshold)
        if self.top is not None and "top_n" not in values:
            values["top_n"] = str(self.top)
        try:
            return Thresholds.from_mapping(values)
        except (ValueError, TypeError) as exc:
            message = " ".join(str(exc).split())
            if message.startswith("unknown threshold"):
                message += f" (known: {THRESHOLD_KEYS})"
            raise OptionError(f"--threshold: {message}") from None


FILTERS = tuple(f.name for f in fields(Query))
