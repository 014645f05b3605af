"""Header values at the edges of 64-bit arithmetic (bad-input finding 2): mutated COPIES of
bundled dumps, made in tmp_path.  Every one is refused in one line that names the absurd
field; none raises OverflowError, wraps a check, or prints a negative count."""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from dumpscan.dumpfile import DumpFormatError, open_dump

DUMPS = Path(__file__).resolve().parents[1] / "testdata" / "dumps"
DUMPSCAN = Path(sys.executable).with_name("dumpscan")
BITMAP = DUMPS / "win10-x64-kernel-sdmp.dmp"  # DumpType 5: bitmap header at 0x2000
RDMP = DUMPS / "win10-x64-rdmp-kernel.dmp"  # DumpType 8: ranges at 0x2030, 16 bytes each
BITMAP_HEADER_SIZE = 0x2020  # BITMAP_HEADER.HeaderSize (docs/dump-format.md)
RDMP_RANGE = 0x2030  # first {PageFileNumber u64, NumberOfPages u64}


def mutated(tmp_path: Path, source: Path, offset: int, value: int, label: str) -> Path:
    target = tmp_path / f"{source.stem}-{label}.dmp"
    shutil.copyfile(source, target)
    with open(target, "r+b") as handle:
        handle.seek(offset)
        handle.write(struct.pack("<Q", value))
    return target


CASES = [
    # (source, offset, value, what the message must say)
    (BITMAP, BITMAP_HEADER_SIZE, 1 << 63, "HeaderSize (first page offset) 0x8000000000000000"),
    (BITMAP, BITMAP_HEADER_SIZE, (1 << 64) - 1, "HeaderSize (first page offset) 0xffffffffffffffff"),
    (RDMP, RDMP_RANGE + 8, (1 << 63) - 1, "absurd RDMP range 0: NumberOfPages 0x7fffffffffffffff"),
    (RDMP, RDMP_RANGE, (1 << 63) - 2, "absurd RDMP range 0: PageFileNumber 0x7ffffffffffffffe"),
    # the second range: PFN + its 63 pages used to wrap to a negative number and pass
    (RDMP, RDMP_RANGE + 16, (1 << 63) - 2, "absurd RDMP range 1: PageFileNumber 0x7ffffffffffffffe"),
    (RDMP, RDMP_RANGE + 24, (1 << 64) - 1, "absurd RDMP range 1: NumberOfPages 0xffffffffffffffff"),
]


@pytest.mark.parametrize("source, offset, value, expected", CASES)
def test_absurd_header_values_are_refused_naming_the_field(tmp_path, source, offset, value, expected):
    path = mutated(tmp_path, source, offset, value, f"{offset:x}-{value:x}")
    with pytest.raises(DumpFormatError) as info:
        open_dump(path)
    text = str(info.value)
    assert text.startswith(f"{path}: ") and "\n" not in text, text
    assert expected in text, text
    assert "-" not in text.split(": ", 1)[1].replace("2**", ""), text  # no negative numbers


def test_a_range_ending_just_inside_the_limit_still_opens(tmp_path):
    """The checks refuse only the absurd: a second range moved up to PFN 0x1000 (a 16 MiB
    machine) opens, its pages past the end of the file reported as truncation."""
    path = mutated(tmp_path, RDMP, RDMP_RANGE + 16, 0x1000, "moved")
    with open_dump(path) as dump:
        assert dump.is_present(0x1000) and not dump.is_present(0x100)


@pytest.mark.parametrize("source, offset, value, expected", CASES[:3])
def test_the_command_line_says_the_same_in_one_line(tmp_path, source, offset, value, expected):
    path = mutated(tmp_path, source, offset, value, "cli")
    proc = subprocess.run([str(DUMPSCAN), "analyze", "-s", str(tmp_path), str(path)],
                          capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert proc.returncode == 2 and proc.stdout == ""
    assert "Traceback" not in proc.stderr and "OverflowError" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"dumpscan: {path}: ") and expected in lines[0], lines
