"""The process list: EPROCESS objects in nonpaged 'Proc' pool blocks, linked through
ActiveProcessLinks from nt!PsActiveProcessHead.

Facts: the members and their layouts come from the platform's ISF (_EPROCESS:
ActiveProcessLinks, UniqueProcessId, InheritedFromUniqueProcessId, ImageFileName (15
bytes), CreateTime, ActiveThreads; _KPROCESS.DirectoryTableBase) [V S1]; ObjectTable,
Session and Wow64Process stay NULL (Volatility3's windows.pslist reads them). MODEL: the process tree (a
typical boot plus NotMyfault.exe), PIDs and creation times; the object body sits
OBJECT_BODY_OFFSET bytes into its pool block (the object header is not written); every
process shares the kernel's page-table root; QuotaBlock is left 0 because the public
symbols carry no _EPROCESS_QUOTA_BLOCK layout.
"""
from __future__ import annotations

from dataclasses import dataclass

from .machine import Machine
from .pool import Block, PoolModel

THREADS = {"System": 160, "svchost.exe": 18, "explorer.exe": 62, "lsass.exe": 11}  # MODEL
OBJECT_BODY_OFFSET = 0x80  # MODEL: _OBJECT_HEADER and its optional headers before the body
# (image name, PID, parent PID, seconds after boot) of a typical boot [MODEL]
PROCESS_TREE = (
    ("System", 4, 0, 0), ("Registry", 0x78, 4, 1), ("smss.exe", 0x1B0, 4, 2),
    ("csrss.exe", 0x228, 0x21C, 4), ("wininit.exe", 0x274, 0x21C, 4), ("csrss.exe", 0x280, 0x26C, 4),
    ("winlogon.exe", 0x2D0, 0x26C, 5), ("services.exe", 0x2E4, 0x274, 5), ("lsass.exe", 0x2F8, 0x274, 5),
    ("svchost.exe", 0x3A8, 0x2E4, 6), ("svchost.exe", 0x3F0, 0x2E4, 6), ("explorer.exe", 0x1148, 0x10E4, 40),
    ("NotMyfault.exe", 0x1A2C, 0x1148, 3600),
)


@dataclass
class Process:
    name: str
    pid: int
    ppid: int
    started: int  # seconds after boot
    block: Block

    @property
    def address(self) -> int:
        return self.block.va + OBJECT_BODY_OFFSET


def has_process_list(machine: Machine) -> bool:
    return machine.has("_EPROCESS", "ActiveProcessLinks")


def allocate_processes(machine: Machine, pool: PoolModel, nonpaged_type: int) -> list[Process]:
    """The EPROCESS objects, allocated as 'Proc' blocks (none where the platform's
    symbols describe no _EPROCESS members)."""
    if not has_process_list(machine):
        return []
    size = machine.packer.sizeof("_EPROCESS") + OBJECT_BODY_OFFSET
    return [Process(name, pid, ppid, started,
                    pool.allocate(size=size, tag="Proc", pool_type=nonpaged_type, owner="nt", caller=0,
                                  cpu=index % pool.processors))
            for index, (name, pid, ppid, started) in enumerate(PROCESS_TREE)]


def write_processes(machine: Machine, processes: list[Process], boot_time: int) -> None:
    """Each EPROCESS's members, and the ActiveProcessLinks ring through the list head."""
    head = machine.symbol("PsActiveProcessHead")
    if not processes:
        machine.write_empty_list("PsActiveProcessHead")
        return
    links = machine.packer.offsetof("_EPROCESS.ActiveProcessLinks")
    ring = [head] + [p.address + links for p in processes] + [head]
    machine.write_struct(head, "_LIST_ENTRY", {"Flink": ring[1], "Blink": ring[-2]})
    for position, process in enumerate(processes, start=1):
        machine.write_struct(process.address, "_EPROCESS", {
            "Pcb": {"DirectoryTableBase": machine.space.dtb},
            "ActiveProcessLinks": {"Flink": ring[position + 1], "Blink": ring[position - 1]},
            "UniqueProcessId": process.pid, "InheritedFromUniqueProcessId": process.ppid,
            "ImageFileName": process.name.encode("ascii")[:15].ljust(15, b"\0"),
            "ActiveThreads": THREADS.get(process.name, 4),
            "CreateTime": {"QuadPart": boot_time + process.started * 10_000_000}})


def processes_truth(machine: Machine, processes: list[Process]) -> list[dict] | None:
    """The truth's ``processes``, in list order (None without a process list)."""
    if not has_process_list(machine):
        return None
    return [{"address": machine.canonical(p.address), "pid": p.pid, "ppid": p.ppid,
             "name": p.name[:15]} for p in processes]
