"""Text of a triage ("small memory") dump's report (``dump.kind == "triage"``): what the
dump is, what it says (bug check, its parameters, the loaded drivers) and that it holds no
pool data, with the setting that gives a kernel memory dump next time."""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone

from ..analysis.leaks import format_address, format_duration


def is_triage_report(report: Mapping) -> bool:
    return (report.get("dump") or {}).get("kind") == "triage"


def _timestamp(value: int | None) -> str:
    if value is None:
        return "-"
    return f"{value:08x} ({datetime.fromtimestamp(value, timezone.utc):%Y-%m-%d %H:%M:%S} UTC)"


def render_triage(report: Mapping) -> str:
    dump, triage, header = report["dump"], report.get("triage") or {}, report.get("header") or {}
    arch = dump.get("machine", "x64")
    check = dump.get("bugcheck") or {}
    params = list(check.get("parameters") or [0, 0, 0, 0])
    width = 16 if arch == "x64" else 8
    lines = [f"{header.get('dump', '')}: a small memory dump (triage dump, DumpType 4), "
             f"{arch}, Windows build {header.get('build', '?')}", ""]
    name = f" {check['name']}" if check.get("name") else ""
    lines.append(f"Bug check 0x{check.get('code', 0):X}{name}")
    meanings = triage.get("parameters") or [""] * 4
    for index, (value, meaning) in enumerate(zip(params, meanings), start=1):
        lines.append(f"  Arg{index}: {value:0{width}x}" + (f"  {meaning}" if meaning else ""))
    if triage.get("explanation"):
        lines.append(f"  Meaning: {triage['explanation']}.")
    if triage.get("bugcheck_driver"):
        lines.append(f"  Driver named by the bug check: {triage['bugcheck_driver']}")
    if "outstanding_allocations" in triage:
        lines.append(f"  Allocations not freed: {triage['outstanding_allocations']}")
    if triage.get("broken_driver"):
        lines.append(f"  Driver the dump blames: {triage['broken_driver']}")
    if header.get("uptime_seconds") is not None:
        lines.append(f"  Uptime: {format_duration(header['uptime_seconds'])}")
    modules = report.get("modules") or []
    lines += ["", f"Loaded drivers ({len(modules)})"]
    label = max([len(m["name"]) for m in modules] + [4])
    lines.append(f"  {'Name':<{label}}  {'Base':<{width + (1 if arch == 'x64' else 0)}}  {'Size':>8}  Timestamp")
    for module in modules:
        lines.append(f"  {module['name']:<{label}}  {format_address(module['base'], arch)}  "
                     f"{module['size']:>8x}  {_timestamp(module.get('timestamp'))}")
    lines += ["", "No pool data: a small memory dump holds no physical memory, so no pool tables",
              "(no !poolused, no !verifier 3, no big pool). For a kernel memory dump next time set",
              f"  {triage.get('kernel_dump_setting', '')}", ""]
    return "\n".join(lines)
