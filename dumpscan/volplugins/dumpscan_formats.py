"""Teach Volatility3 every Windows kernel crash-dump format dumpscan reads.

``dumpscan vol ...`` and ``vol -p plugins ...`` import every module in this directory.
Importing this one defines two classes Volatility discovers by subclass
(``framework.class_subclasses``):

* ``DumpscanCrashDumpStacker`` (a StackerLayerInterface, stack_order 9): DumpType 1, 2,
  5, 6, 8, 9 and 0xA, 32- and 64-bit, read through dumpscan's page map, with the DTB
  from the header when it checks out;
* ``DumpscanKernelFromHeader`` (an AutomagicInterface, priority 25): the kernel base and
  PDB from the header's KDBG / PsLoadedModuleList instead of KernelPDBScanner's scans.

See docs/volatility.md.
"""
from dumpscan.vol.automagic import DumpscanKernelFromHeader  # noqa: F401  (registers it)
from dumpscan.vol.stacker import DumpscanCrashDumpStacker  # noqa: F401  (registers it)

__all__ = ["DumpscanCrashDumpStacker", "DumpscanKernelFromHeader"]
