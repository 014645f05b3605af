"""kdmp-parser, an independent C++ crash-dump parser, agrees on every 64-bit bundled dump."""
from __future__ import annotations

import pytest

from conftest import DUMPS, bundled, load_truth
from dumpscan.dumpfile import open_dump

kdmp_parser = pytest.importorskip("kdmp_parser")
PAGE = 0x1000
X64 = bundled(lambda name, truth: truth["dump"]["machine"] == "x64")


@pytest.mark.parametrize("name", X64)
def test_kdmp_parser_agrees(name):
    truth = load_truth(name)
    path = DUMPS / f"{name}.dmp"
    parser = kdmp_parser.KernelDumpParser(str(path))
    assert int(parser.type) == truth["dump"]["dump_type"]
    assert parser.directory_table_base == truth["dump"]["dtb"]
    assert parser.header.BugCheckCode == truth["dump"]["bugcheck"]["code"]
    assert list(parser.header.BugCheckCodeParameter) == truth["dump"]["bugcheck"]["parameters"]
    assert parser.context.MxCsr == parser.context.MxCsr2
    with open_dump(path) as dump:
        ours = dump.present_pfns().tolist()
        assert sorted(address // PAGE for address in parser.pages.keys()) == ours
        for pfn in ours:
            assert bytes(parser.read_physical_page(pfn * PAGE)) == dump.read_page(pfn)
    # virtual translation through the factory's page tables agrees too
    kernel = parser.read_virtual_page(truth["kernel"]["base"])
    assert kernel is not None and bytes(kernel[:2]) == b"MZ"
    kuser_kernel = parser.read_virtual_page(0xFFFFF78000000000)
    assert bytes(kuser_kernel) == bytes(parser.read_virtual_page(0x7FFE0000))
