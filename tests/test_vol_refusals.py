"""Bad input through Volatility (bad-input finding 7): the plugins refuse what the `dumpscan`
command refuses, with the same one-line reason and a non-zero exit, and dumpscan's stacker
ends the stacking of a refused dump at once (Volatility's own crash-dump stacker never gets
to read a header dumpscan refused).  Mutated COPIES of bundled dumps, made in tmp_path."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import DUMPS, SYMBOLS, run_vol
from dumpscan.vol.open import open_kernel

DUMPSCAN = Path(sys.executable).with_name("dumpscan")
BITMAP = DUMPS / "win10-x64-verifier-bitmap.dmp"  # DumpType 5, bitmap header at 0x2000
FULL = DUMPS / "win10-x64-verifier-full.dmp"  # DumpType 1, PhysicalMemoryBlock at 0x88


def patched(tmp_path: Path, source: Path, offset: int, data: bytes, label: str) -> Path:
    target = tmp_path / f"{source.stem}-{label}.dmp"
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        handle.seek(offset)
        handle.write(data)
    return target


def pe_signature_offset(source: Path) -> int:
    """File offset of the kernel image's 'PE\\0\\0' signature (e_lfanew from its MZ header)."""
    opened = open_kernel(source, [SYMBOLS])
    try:
        layer = opened.context.layers[opened.layer_name]
        physical, _ = layer.translate(opened.kernel_base & layer.address_mask)
        image = opened.dump.file_offset(physical >> 12) + (physical & 0xFFF)
        e_lfanew = int.from_bytes(opened.view.read(opened.kernel_base + 0x3C, 4), "little")
        return image + e_lfanew
    finally:
        opened.close()


def mutations(tmp_path: Path) -> dict[str, Path]:
    return {
        "valid-dump-zeroed": patched(tmp_path, BITMAP, 0x2004, b"\0\0\0\0", "validdump"),
        "runs-page-fill": patched(tmp_path, FULL, 0x88, b"PAGE", "runs"),
        "pe-header": patched(tmp_path, BITMAP, pe_signature_offset(BITMAP), b"\0\0\0\0", "pe"),
    }


def cli_reason(path: Path) -> str:
    proc = subprocess.run([str(DUMPSCAN), "analyze", "-s", str(SYMBOLS), str(path)], capture_output=True,
                          text=True, timeout=120, env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dumpscan: {path}: "), proc.stderr
    return lines[0][len(f"dumpscan: {path}: "):]


@pytest.mark.parametrize("case", ["valid-dump-zeroed", "runs-page-fill", "pe-header"])
def test_the_plugin_refuses_what_the_command_refuses(tmp_path, vol_cache, case):
    path = mutations(tmp_path)[case]
    reason = cli_reason(path)
    result = run_vol(path, "windows.poolleak", plugins=True, cache=vol_cache)
    assert result.returncode != 0, result.stdout[-2000:]
    assert "Traceback" not in result.stderr
    assert '"Rank"' not in result.stdout  # no rows
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1, result.stderr
    assert errors[0].endswith(reason) or errors[0].endswith(f"{path}: {reason}"), (errors, reason)


def test_a_refused_dump_ends_the_stacking_at_once(tmp_path):
    """Volatility's LayerStacker with every stacker: on a dump dumpscan refuses, the top of
    the stack is dumpscan's RefusedCrashDump, not Volatility's crash layer (which read
    NumberOfRuns = 'PAGE' for a minute) nor an Intel layer over the raw file."""
    import volatility3.framework.layers
    from volatility3 import framework
    from volatility3.framework import contexts, interfaces
    from volatility3.framework.automagic import stacker
    from volatility3.framework.layers import physical

    from dumpscan.vol.layer import RefusedCrashDump
    from dumpscan.vol.stacker import DumpscanCrashDumpStacker

    framework.import_files(volatility3.framework.layers, True)
    stackers = sorted(framework.class_subclasses(interfaces.automagic.StackerLayerInterface),
                      key=lambda s: s.stack_order)
    assert DumpscanCrashDumpStacker in stackers
    for case, path in mutations(tmp_path).items():
        if case == "pe-header":  # stacks fine: the kernel image is checked later, by the plugin
            continue
        context = contexts.Context()
        context.config["file.location"] = path.resolve().as_uri()
        context.add_layer(physical.FileLayer(context, "file", "file"))
        layers = stacker.LayerStacker.stack_layer(context, "file", list(stackers))
        assert layers[1:] == ["file"] and isinstance(context.layers[layers[0]], RefusedCrashDump), layers
        refused = context.layers[layers[0]]
        assert refused.metadata["refused"].startswith(f"{path}: ")
        assert not refused.is_valid(0) and refused.maximum_address == 0


def test_a_triage_dump_is_refused_by_the_plugins_in_one_line(vol_cache):
    """A small memory dump holds no memory for a plugin to read: one ERROR line naming it,
    exit 1 (the command reports what the dump says instead, tests/test_triage.py)."""
    path = DUMPS / "win10-x64-triage-c4.dmp"
    result = run_vol(path, "windows.pooltags", plugins=True, cache=vol_cache)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("ERROR")]
    assert len(errors) == 1 and errors[0].endswith(
        f"{path}: triage / small memory dump (4) holds no physical memory pages, only the crash summary "
        "(dumpscan.dumpfile.open_triage reads it)"), result.stderr
