"""Text, CSV and JSON of ``dumpscan symbols`` (:class:`~dumpscan.analysis.symbol_needs.SymbolNeeds`),
and the one-line note ``analyze`` prints about driver tables that would name callers."""
from __future__ import annotations

import csv
import io
import json

from ..analysis.symbol_needs import SymbolNeeds

SYMBOL_COLUMNS = ("module", "base", "pdb", "guid", "age", "status", "table")


def symbols_note(wanted: dict[str, list[dict]], analyzed: int) -> str | None:
    """The one line ``analyze`` prints when driver tables would name callers shown as
    ``module+0xoff`` (``coverage.modules.symbols_wanted`` of each report), else None."""
    pdbs = sorted({f"{w['pdb']} {w['guid']}-{w['age']}" for tables in wanted.values() for w in tables})
    if not pdbs:
        return None
    shown = ", ".join(pdbs[:5]) + (f" and {len(pdbs) - 5} more" if len(pdbs) > 5 else "")
    dumps = [d for d, tables in wanted.items() if tables]
    if analyzed == 1:
        return (f"dumpscan: {dumps[0]}: note: driver symbol tables would improve caller names: {shown} "
                f"(run `dumpscan symbols {dumps[0]}`)")
    return (f"dumpscan: note: driver symbol tables would improve caller names in {len(dumps)} of "
            f"{analyzed} dumps: {shown} (run `dumpscan symbols DUMP...`)")


def render_symbol_needs(listed: list[SymbolNeeds], output_format: str) -> str:
    """``dumpscan symbols`` output: a table per dump (text), rows with a dump column (csv),
    or a list of {dump, note, tables} (json)."""
    if output_format == "json":
        return json.dumps([{"dump": n.dump, "note": n.note, "tables": [t.as_dict() for t in n.tables]}
                      for n in listed], separators=(",", ":")) + "\n"
    if output_format == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(("dump",) + SYMBOL_COLUMNS)
        for needs in listed:
            for t in needs.tables:
                writer.writerow((needs.dump, t.module, "" if t.base is None else f"{t.base:#x}", t.pdb or "",
                                 t.guid or "", "" if t.age is None else t.age, t.status, t.table))
        return buffer.getvalue()
    parts = []
    for needs in listed:
        rows = [("Module", "PDB", "GUID-age", "Status", "Table")]
        rows += [(t.module, t.pdb or "?", f"{t.guid}-{t.age}" if t.guid else "?", t.status,
                  ("put it at " if t.status == "missing" else "") + t.table) for t in needs.tables]
        widths = [max(len(r[i]) for r in rows) for i in range(4)]
        lines = [needs.dump] + ["  " + "  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[4]
                                for r in rows]
        if needs.note:
            lines.append(f"  ({needs.note})")
        missing = sum(t.status == "missing" for t in needs.tables)
        if missing:
            lines.append(f"  {missing} of {len(needs.tables)} tables missing: convert each PDB with "
                         "`dumpscan symbols --import FILE.pdb -s DIR` (its GUID and age must match)")
        parts.append("\n".join(lines) + "\n")
    return "\n".join(parts)
