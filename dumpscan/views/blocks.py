"""The ``blocks`` view: every pool block the walk found (``pool_blocks``), as ``!poolfind``
lists them; with ``--address``, the block that contains the address and its neighbours,
as ``!pool ADDR`` shows them."""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping

from .match import enough, owners_matcher, tag_matcher
from .model import Column, Row, Table, View
from .options import Query
from .pool import tag_rows
from .verifier import canonical_address

HEADER_SIZE = {"x64": 0x10, "x86": 8}  # sizeof(_POOL_HEADER): where a small block starts

BLOCK_COLUMNS = (
    Column("address", "address", "The block's address as its caller got it (after the POOL_HEADER)"),
    Column("header", "address", "The block's POOL_HEADER (none for a big block: page aligned, no header)"),
    Column("size", "bytes", "Bytes the pool charges for the block (its header included)"),
    Column("tag", "tag", "The pool tag"),
    Column("key", "hex", "The tag as the 32-bit value stored"),
    Column("pool", "str", "paged, nonpaged, nonpaged_nx or session"),
    Column("allocated", "bool", "Allocated (else a free block that keeps its last tag)"),
    Column("reachable", "bool", "Something in the dump points at it (empty: not computed)"),
    Column("contains", "bool", "With --address: this block holds the address"),
    Column("drivers", "list", "The tag's owners"),
)


def _start(block: Mapping, header: int) -> int:
    """Where a block begins: its POOL_HEADER, or a big block's first byte."""
    address = block.get("address", 0)
    return address if address % 0x1000 == 0 and block.get("size", 0) >= 0x1000 else address - header


def build_blocks(report: Mapping, query: Query) -> Table:
    from ..analysis.leaks import machine

    arch = machine(report)
    header = HEADER_SIZE.get(arch, 0x10)
    section = report.get("pool_blocks")
    blocks = [b for b in (section.get("blocks") or [] if isinstance(section, Mapping) else [])
              if isinstance(b, Mapping)]
    owners = {r["tag"]: r["drivers"] for r in tag_rows(report)}
    context: dict = {"walk": section.get("walk") if isinstance(section, Mapping) else None,
                     "blocks": len(blocks), "query": query}
    notes = [] if isinstance(section, Mapping) else ["no pool walk in this report"]
    if query.address is not None:
        target = canonical_address(query.address, arch)
        starts = [_start(b, header) for b in blocks]
        index = bisect_right(starts, target) - 1
        hit = index >= 0 and target < starts[index] + blocks[index].get("size", 0)
        if not hit:
            notes.append(f"{target:#x} is in no pool block the walk found")
            picked = []
        else:
            picked = list(range(max(index - 1, 0), min(index + 2, len(blocks))))
        context["found"] = hit
        rows = [_row(blocks[i], header, owners, i == index) for i in picked]
        return Table(BLOCKS, rows, context, notes)
    match_tag, match_owners = tag_matcher(query.tag), owners_matcher(query.driver)
    picked = [b for b in blocks if match_tag(b.get("tag", "")) and enough(b.get("size", 0), query.min_bytes)
              and match_owners(owners.get(b.get("tag", ""), []))]
    return Table(BLOCKS, [_row(b, header, owners, None) for b in query.limit(picked)], context, notes)


def _row(block: Mapping, header: int, owners: Mapping, contains: bool | None) -> Row:
    start = _start(block, header)
    return Row({"address": block.get("address"), "header": start if start != block.get("address") else None,
                "size": block.get("size"), "tag": block.get("tag", ""), "key": block.get("key"),
                "pool": block.get("pool"), "allocated": block.get("allocated"),
                "reachable": block.get("reachable"), "contains": contains,
                "drivers": owners.get(block.get("tag", ""), [])})


BLOCKS = View(
    "blocks", "pool blocks",
    "Every pool block the pool walk found (small blocks of the segment heap or the pool "
    "pages, and the live big-pool blocks), by address: !poolfind for --tag; with "
    "--address, the block holding that address and its neighbours (!pool ADDR).",
    BLOCK_COLUMNS, ("tag", "driver", "min_bytes", "top", "address"), build_blocks)
