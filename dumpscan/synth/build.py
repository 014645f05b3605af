"""Build a scenario: simulate, lay out memory, write the dump, the truth and the ISFs."""
from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..dumpfile.headers import TRIAGE_DUMP_TYPE
from ..dumpfile.writer import DumpSpec, write_dump
from .crash import STACK_PAGES, CrashState, CrashWriter
from .isf import module_isf, platform_isf, write_isf
from .kernel_image import KernelImageWriter, LoadedModule, place_modules
from .machine import MAPS, Extent, Machine, refuse_overlaps
from .memory import PAGE, USER_READONLY
from .noise import (SYSTEM_TAGS, add_big_blocks, add_bulk_big_blocks, add_bulk_small_blocks,
                    add_tag_counters, synthetic_tags)
from .platforms import get_platform
from .platforms.base import Platform
from .pool import PoolModel, tag_key
from .pool_layout import PoolLayoutWriter
from .processes import Process, allocate_processes, processes_truth, write_processes
from .small_blocks import small_blocks, write_pool_locations, write_small_blocks
from .scenario import Allocate, Scenario
from .stacks import Symbolizer
from .triage import write_triage
from .truth import build_truth
from .verifier_layout import VerifierLayoutWriter

LOW_MEMORY_RUN = (0x1, 0x9E)  # conventional memory below 640 KB, as PC firmware reports it
FIRST_ALLOCATABLE_PFN = 0x100
PFN_DATABASE = {"x64": 0xFFFFFA8000000000, "x86": 0x84200000}  # MODEL
USER_IMAGE = {"x64": 0x00007FF65A8B0000, "x86": 0x00400000}  # NotMyfault.exe, MODEL
# Counters of MmVerifierData the simulation does not drive, with plausible values.
DEFAULT_VERIFIER_STATS = {"RaiseIrqls": 0x1C3, "AcquireSpinLocks": 0x2F1,
                          "SynchronizeExecutions": 0x12, "Trims": 0, "Loads": 2, "Unloads": 0}


@dataclass
class BuildResult:
    dump: Path
    truth: Path
    truth_data: dict


BUILD_STEPS = ("simulate", "lay out", "write the dump", "write the truth", "write the symbol tables")


def build_scenario(scenario: Scenario, out_dir: Path, symbol_dir: Path,
                   step_done: Callable[[str], None] = lambda step: None) -> BuildResult:
    """Simulate the scenario, lay the machine out, write NAME.dmp, NAME.truth.json and
    the symbol tables; ``step_done`` is called with each of BUILD_STEPS as it ends.
    Raises :class:`OverlapError` when two parts of the machine would share addresses."""
    platform = get_platform(scenario.platform)
    machine, world = _simulate_sized(scenario, platform)
    step_done(BUILD_STEPS[0])
    crash = _crash(scenario, machine, world)
    _lay_out(scenario, machine, world, crash)
    refuse_overlaps(_extents(machine, world))
    step_done(BUILD_STEPS[1])

    out_dir.mkdir(parents=True, exist_ok=True)
    dump_path = out_dir / f"{scenario.name}.dmp"
    if scenario.dump_type == TRIAGE_DUMP_TYPE:  # what Windows keeps of the machine: synth/triage.py
        truth = write_triage(dump_path, _dump_spec(scenario, machine, crash, []), machine, world.modules,
                             crash, world.images.timestamp)
        step_done(BUILD_STEPS[2])
    else:
        _write_dump_file(scenario, machine, crash, dump_path, _ram_runs(scenario, machine))
        step_done(BUILD_STEPS[2])
        truth = build_truth(scenario=scenario, machine=machine, pool=world.pool, modules=world.modules,
                            crash=crash, dtb=machine.space.dtb,
                            processes=processes_truth(machine, world.processes))
    truth_path = out_dir / f"{scenario.name}.truth.json"
    # one row a line reads well for the bundled dumps; the C encoder (no indent)
    # keeps a million-row truth of a benchmark dump fast
    indent = 1 if len(truth["bigpool"]) < 50_000 else None
    truth_path.write_text(json.dumps(truth, indent=indent, sort_keys=True) + "\n")
    step_done(BUILD_STEPS[3])
    write_symbol_tables(scenario, symbol_dir)
    step_done(BUILD_STEPS[4])
    return BuildResult(dump_path, truth_path, truth)


def _simulate_sized(scenario: Scenario, platform: Platform) -> tuple[Machine, "_World"]:
    """Simulate on the map's default arena spans; when an arena must hold more than its
    span (so that the arenas after it move), simulate again on arenas sized from what
    each held. The simulation is deterministic and does not depend on where the
    (2 MiB-aligned) arenas start, so the second run holds the same."""
    layout, ram = MAPS[platform.name], _allocation_ranges(scenario)
    machine = Machine(platform, layout, ram)
    world = _simulate(scenario, machine)
    needs = world.pool.arena_use()
    needs["system"] = PoolLayoutWriter(machine, world.pool).system_arena_bytes(scenario.tag_table_bits)
    sized = layout.arena_plan(needs)
    if all(sized[name].start == extent.start for name, extent in machine.arenas.items()):
        return machine, world
    machine = Machine(platform, layout, ram, needs)
    return machine, _simulate(scenario, machine)


def _extents(machine: Machine, world: "_World") -> list[Extent]:
    """Every range of addresses the build wrote to or handed out: arenas (as far as
    they reach), images, the crash stack, KUSER_SHARED_DATA, the user image, the
    page-table window."""
    used = world.pool.arena_use()
    used["system"] = machine.system_used()
    extents = [Extent(e.name, e.start, max(e.end, e.start + used[name]))
               for name, e in machine.arenas.items()]
    extents += [Extent(f"image of {m.name}", m.base, m.base + m.size) for m in world.modules]
    layout = machine.layout
    extents.append(Extent("crash stack", layout.stack_base - STACK_PAGES * PAGE, layout.stack_base))
    extents.append(Extent("KUSER_SHARED_DATA", layout.kuser_kernel, layout.kuser_kernel + PAGE))
    user = USER_IMAGE[machine.platform.machine]
    extents.append(Extent("user image", user, user + PAGE))
    start, size = machine.space.page_table_window()
    extents.append(Extent("page-table window", start, start + size))
    return extents


@dataclass
class _World:
    """The simulated machine state the writers lay out."""

    pool: PoolModel
    modules: list[LoadedModule]  # loaded when the dump was written
    images: KernelImageWriter
    verifier: VerifierLayoutWriter | None
    symbolizer: Symbolizer
    stacks: list[list[int]]  # every stack written to a trace record
    processes: list[Process]


def _simulate(scenario: Scenario, machine: Machine) -> _World:
    """Load the modules, set Driver Verifier up, replay the workload and the background
    activity of the rest of the system."""
    platform, layout = machine.platform, machine.layout
    nx = "NonPagedPoolNx" in platform.enums["_POOL_TYPE"].constants
    arenas = {name: extent.start for name, extent in machine.arenas.items()}
    pool = PoolModel(
        pointer_size=platform.pointer_size, processors=scenario.processors, arenas=arenas,
        trace_length=scenario.trace_length if scenario.verifier_level is not None else 0,
        trace_depth=_array_length(platform, "_VF_POOL_TRACE", "StackTrace"),
        verifier_level=scenario.verifier_level,
        tracker_page_type=0x280 if nx else 0x80, big_table_size=scenario.big_table_size,
        small=small_blocks(platform, arenas, scenario.seed))
    ever_loaded = place_modules(machine, scenario.drivers)
    ever_loaded[0].functions = {**platform.symbols, **ever_loaded[0].functions}
    unloaded = {d.name for d in scenario.drivers if d.unloaded}
    modules = [m for m in ever_loaded if m.name not in unloaded]
    images = KernelImageWriter(machine, modules, {d.name: d for d in scenario.drivers},
                               timestamp=0x5F3E2A10)
    images.write_loader_list(pool)
    processes = allocate_processes(machine, pool, 0x200 if nx else 0)
    verifier = None
    if scenario.verifier_level is not None:
        verifier = VerifierLayoutWriter(machine, pool, ever_loaded, list(scenario.drivers),
                                        tables_no=scenario.processors)
        verifier.allocate()
    symbolizer = Symbolizer(platform, layout.kernel_base,
                            {m.name: (m.base, m.functions) for m in ever_loaded})
    stacks = _run_workload(scenario, pool, symbolizer, nx, layout.thread_base)
    _background(scenario, pool, modules, nx)
    pool.stats.update({k: v for k, v in DEFAULT_VERIFIER_STATS.items() if k not in pool.stats})
    pool.stats.update(scenario.verifier_stats)
    return _World(pool, modules, images, verifier, symbolizer, stacks, processes)


def _background(scenario: Scenario, pool: PoolModel, modules: list[LoadedModule], nx: bool) -> None:
    """Tag counters and big blocks of the rest of the system."""
    rng = random.Random(scenario.seed)
    taken = {tag_key(t) for t in SYSTEM_TAGS}
    for table in pool.tag_counts:
        taken.update(table)
    background = sorted(SYSTEM_TAGS) + synthetic_tags(rng, scenario.noise.tags, taken)
    nonpaged = 0x200 if nx else 0
    add_tag_counters(pool, rng, background, nonpaged)
    owners = {m.name: m.base + 0x1200 for m in modules}
    pool_types = [1, nonpaged, 1, nonpaged, 5, 0x21]  # paged, nonpaged(Nx), cache aligned, session
    add_big_blocks(pool, rng, scenario.noise.big_blocks, owners, pool_types)
    if scenario.noise.bulk_big_blocks:
        add_bulk_big_blocks(pool, scenario.seed, scenario.noise.bulk_big_blocks, pool_types)
    if scenario.noise.bulk_small_blocks:
        add_bulk_small_blocks(pool, scenario.seed, scenario.noise.bulk_small_blocks, nonpaged)


def _crash(scenario: Scenario, machine: Machine, world: _World) -> CrashState:
    """Bug check, context record and the crashing thread's stack."""
    crash_driver = next((d.name for d in scenario.drivers if "PoolLeak" in d.functions), "myfault.sys")
    writer = CrashWriter(machine, world.symbolizer, crash_driver)
    if scenario.crash == "verifier-unload":
        leaker = next(d for d in scenario.drivers if d.unloaded)
        name_va, data_va = world.verifier.unload_bugcheck(leaker.name)
        counters = world.pool.verified[leaker.name].counters
        outstanding = (counters.get("CurrentPagedPoolAllocations", 0)
                       + counters.get("CurrentNonPagedPoolAllocations", 0))
        return writer.verifier_unload(name_va, data_va, outstanding)
    return writer.write(scenario.crash, machine.arenas["paged"].start + 0x7FF000)


def _lay_out(scenario: Scenario, machine: Machine, world: _World, crash: CrashState) -> None:
    """Write the images, globals and pool structures into the machine's memory."""
    images = world.images
    images.write_images()
    images.write_tag_immediates()
    images.write_call_sites(world.stacks + crash.call_chains)
    images.write_globals(scenario.processors, scenario.system_time,
                         scenario.uptime_seconds * 10_000_000)
    images.write_low_stub()
    write_processes(machine, world.processes,
                    scenario.system_time - scenario.uptime_seconds * 10_000_000)
    layout_writer = PoolLayoutWriter(machine, world.pool)
    layout_writer.write_blocks()
    write_small_blocks(machine, world.pool.small)
    if world.verifier is not None:
        world.verifier.write(scenario.verifier_level, world.pool.stats)
    else:  # Driver Verifier off: zeroed statistics, an empty configured-driver list
        machine.write_empty_list("VfSuspectDriversList")
    layout_writer.write_big_table()
    layout_writer.write_tag_tables(scenario.tag_table_bits)
    layout_writer.write_pool_hit_tag(scenario.pool_hit_tag)
    _write_user_image(machine)
    write_pool_locations(machine, world.pool)


def write_symbol_tables(scenario: Scenario, symbol_dir: Path) -> list[Path]:
    """The kernel ISF, and an ISF for every driver the scenario ships symbols for."""
    platform = get_platform(scenario.platform)
    paths = [write_isf(platform_isf(platform, __version__), symbol_dir)]
    for driver in scenario.drivers:
        if driver.pdb and driver.guid:
            paths.append(write_isf(module_isf(driver.pdb, driver.guid, 1, platform.machine,
                                              driver.functions, __version__), symbol_dir))
    return paths


def _array_length(platform, type_name: str, member: str) -> int:
    notation = platform.types[type_name].fields[member][1]
    return int(notation[notation.index("[") + 1:-1])


def _run_workload(scenario: Scenario, pool: PoolModel, symbolizer: Symbolizer, nx: bool,
                  thread_base: int) -> list[list[int]]:
    """Replay the scenario's allocation steps; return every stack written to a trace record."""
    stacks: list[list[int]] = []
    verified = {d.name for d in scenario.drivers if d.verified and (d.loaded or d.unloaded)}
    event = 0
    for step in scenario.workload:
        for _ in range(step.count):
            stacks.append(_allocate_and_maybe_free(step, pool, symbolizer, nx, verified,
                                                   thread_base, event, stacks))
            event += 1
    return stacks


def _allocate_and_maybe_free(step: Allocate, pool: PoolModel, symbolizer: Symbolizer, nx: bool,
                             verified: set[str], thread_base: int, event: int,
                             stacks: list[list[int]]) -> list[int]:
    is_verified = step.site.module in verified
    stack = symbolizer.allocation_stack(step.site, step.path, is_verified)
    pool_type = 1 if step.paged else (0x200 if nx and step.nx else 0)
    thread = thread_base + 0x100 * (event % 3)
    block = pool.allocate(size=step.size, tag=step.tag, pool_type=pool_type,
                          owner=step.site.module, caller=symbolizer.site(step.site),
                          cpu=event % pool.processors, stack=stack, thread=thread)
    if step.free_site is not None:
        free_stack = symbolizer.free_stack(step.free_site)
        stacks.append(free_stack)
        pool.free(block, cpu=(event + 1) % pool.processors, stack=free_stack,
                  thread=thread + 0x3CD40)
    return stack


def _write_user_image(machine: Machine) -> None:
    """One user-mode page (the NotMyfault.exe image header): present in complete
    dumps, left out of kernel-only ones."""
    va = USER_IMAGE[machine.platform.machine]
    machine.write(va, b"MZ" + bytes(0x3A) + (0x100).to_bytes(4, "little"), USER_READONLY)
    machine.exclude_from_kernel_dump(va)


def _large_ram(gib: int) -> list[tuple[int, int]]:
    """RAM of a big machine: low memory, up to 3 GB, then from 4 GB on (the PCI hole
    in between), ``gib`` GiB in all."""
    high = (gib << 18) - 0x9E - (0xC0000 - FIRST_ALLOCATABLE_PFN)
    return [LOW_MEMORY_RUN, (FIRST_ALLOCATABLE_PFN, 0xC0000 - FIRST_ALLOCATABLE_PFN),
            (0x100000, high)]


def _allocation_ranges(scenario: Scenario) -> list[tuple[int, int]]:
    """Where new pages come from: right after low memory for small dumps; for a big
    machine, from high RAM (above 12 GB), so that the dump is sparse and its pages
    sit high as on a real machine [pitfalls doc]."""
    if not scenario.physical_gib:
        return [(FIRST_ALLOCATABLE_PFN, 0x3FF00)]
    first, count = _large_ram(scenario.physical_gib)[-1]
    return [(first + count - 0x100000, 0x100000)]


def _ram_runs(scenario: Scenario, machine: Machine) -> list[tuple[int, int]]:
    if scenario.physical_gib:
        return _large_ram(scenario.physical_gib)
    last = max(machine.memory.pages)
    return [LOW_MEMORY_RUN, (FIRST_ALLOCATABLE_PFN, last + 1 - FIRST_ALLOCATABLE_PFN)]


def _write_dump_file(scenario: Scenario, machine: Machine, crash, path: Path,
                     runs: list[tuple[int, int]]) -> None:
    kernel_only = scenario.dump_type in (6, 8) or scenario.summary_signature == "SDMP"
    complete = scenario.dump_type in (1, 0xA) or scenario.summary_signature == "FDMP"
    write_dump(path, _dump_spec(scenario, machine, crash, runs), _pages(machine, runs, kernel_only, complete))


def _dump_spec(scenario: Scenario, machine: Machine, crash, runs: list[tuple[int, int]]) -> DumpSpec:
    """The dump header; ``runs`` empty for a triage dump (no PhysicalMemoryBlock, no bitmap)."""
    platform = machine.platform
    return DumpSpec(
        machine=platform.machine, dump_type=scenario.dump_type,
        summary_signature=scenario.summary_signature,
        major_version=0xF, minor_version=platform.version[2],
        dtb=machine.space.dtb, pfn_database=PFN_DATABASE[platform.machine],
        ps_loaded_module_list=machine.symbol("PsLoadedModuleList"),
        ps_active_process_head=machine.symbol("PsActiveProcessHead"),
        number_processors=scenario.processors, bugcheck_code=crash.bugcheck_code,
        bugcheck_parameters=crash.parameters,
        kd_debugger_data_block=machine.symbol("KdDebuggerDataBlock"),
        pae_enabled=platform.pae, context=crash.context, exception=crash.exception,
        system_time=scenario.system_time, system_up_time=scenario.uptime_seconds * 10_000_000,
        comment=None, physical_memory_runs=runs, product_type=1, suite_mask=0x110,
        bitmap_pages=((runs[-1][0] + runs[-1][1] + 31) // 32) * 32 if runs else None)


def _pages(machine: Machine, runs, kernel_only: bool, complete: bool):
    """The pages a dump of this kind holds, in frame order."""
    stored = machine.memory.pages
    if complete:
        zero = bytes(PAGE)
        for first, count in runs:
            for pfn in range(first, first + count):
                page = stored.get(pfn)
                yield pfn, bytes(page) if page is not None else zero
        return
    exclude = machine.kernel_only_excluded if kernel_only else set()
    yield from machine.memory.sorted_pages(exclude)
