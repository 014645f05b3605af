"""Write a platform's symbol table as a Volatility3 ISF (Intermediate Symbol Format).

The format is Volatility3's JSON schema (``volatility3/schemas/schema-6.2.0.json``):
``base_types``, ``user_types``, ``enums``, ``symbols`` (RVAs) and ``metadata.windows.pdb``
(GUID, age, database) which Volatility's symbol finder keys on. Files are placed as
``<dir>/windows/<pdb name>/<GUID>-<age>.json.xz`` so ``vol -s <dir>`` finds them.
"""
from __future__ import annotations

import json
import lzma
from pathlib import Path

from .platforms.base import Platform
from .structs import StructPacker, TypeSpec

ISF_FORMAT = "6.2.0"

_BASE_NAMES = {
    "u8": "unsigned char", "u16": "unsigned short", "u32": "unsigned long",
    "u64": "unsigned long long", "i8": "char", "i16": "short", "i32": "long",
    "i64": "long long", "wchar": "wchar", "char": "char", "void": "void",
}

# The base types of a Windows ISF: (kind, size, signed). LLP64 sizes as every
# Windows PDB converted by Volatility3 lists them; "pointer" takes the platform's width.
_BASE_TYPES = {
    "HRESULT": ("int", 4, False), "char": ("char", 1, True), "double": ("float", 8, True),
    "f32": ("float", 4, True), "int": ("int", 4, True), "long": ("int", 4, True),
    "long long": ("int", 8, True), "short": ("int", 2, True),
    "unsigned char": ("char", 1, False), "unsigned int": ("int", 4, False),
    "unsigned long": ("int", 4, False), "unsigned long long": ("int", 8, False),
    "unsigned short": ("int", 2, False), "void": ("void", 0, True), "wchar": ("int", 2, True),
}

_MACHINE_TYPES = {"x64": 0x8664, "x86": 0x14C}  # IMAGE_FILE_MACHINE_AMD64 / _I386


def base_types(pointer_size: int) -> dict:
    out = {name: {"endian": "little", "kind": kind, "signed": signed, "size": size}
           for name, (kind, size, signed) in _BASE_TYPES.items()}
    out["pointer"] = {"endian": "little", "kind": "int", "signed": False, "size": pointer_size}
    return out


def _type_json(platform: Platform, spec: TypeSpec, packer: StructPacker) -> dict:
    if spec.kind == "base":
        return {"kind": "base", "name": _BASE_NAMES[spec.name]}
    if spec.kind == "bitfield":
        return {"kind": "bitfield", "bit_length": spec.bit_length,
                "bit_position": spec.bit_position,
                "type": {"kind": "base", "name": _BASE_NAMES[spec.name]}}
    if spec.kind == "enum":
        return {"kind": "enum", "name": spec.name}
    if spec.kind == "struct":
        return {"kind": platform.types[spec.name].kind, "name": spec.name}
    if spec.kind == "array":
        return {"kind": "array", "count": spec.count,
                "subtype": _type_json(platform, spec.element, packer)}
    # pointer
    target = (packer.parse(spec.target) if spec.target else TypeSpec("base", 0, name="void"))
    return {"kind": "pointer", "subtype": _type_json(platform, target, packer)}


def platform_isf(platform: Platform, producer_version: str) -> dict:
    """The ISF document of a platform's kernel symbol table."""
    packer = StructPacker(platform)
    user_types = {
        name: {
            "kind": struct.kind,
            "size": struct.size,
            "fields": {
                member: {"offset": offset,
                         "type": _type_json(platform, packer.parse(notation), packer)}
                for member, (offset, notation) in struct.fields.items()
            },
        }
        for name, struct in platform.types.items()
    }
    enums = {
        name: {"base": _BASE_NAMES[enum.base], "size": packer.parse(enum.base).size,
               "constants": dict(enum.constants)}
        for name, enum in platform.enums.items()
    }
    symbols = {name: {"address": rva} for name, rva in platform.symbols.items()}
    symbols.update({name: {"address": fn.rva} for name, fn in platform.functions.items()})
    return {
        "metadata": _metadata(platform.pdb_name, platform.guid, platform.age,
                              platform.machine, producer_version),
        "base_types": base_types(platform.pointer_size),
        "user_types": user_types,
        "enums": enums,
        "symbols": symbols,
    }


def module_isf(pdb_name: str, guid: str, age: int, machine: str,
               functions: dict[str, int], producer_version: str) -> dict:
    """A driver's symbol table: function RVAs only (what a public PDB gives)."""
    return {
        "metadata": _metadata(pdb_name, guid, age, machine, producer_version),
        "base_types": base_types(8 if machine == "x64" else 4),
        "user_types": {},
        "enums": {},
        "symbols": {name: {"address": rva} for name, rva in functions.items()},
    }


def _metadata(pdb_name: str, guid: str, age: int, machine: str, version: str) -> dict:
    return {
        "format": ISF_FORMAT,
        "producer": {"name": "dumpscan-synth", "version": version},
        "windows": {"pdb": {"GUID": guid, "age": age, "database": pdb_name,
                            "machine_type": _MACHINE_TYPES[machine]}},
    }


def isf_path(symbol_dir: Path, pdb_name: str, guid: str, age: int) -> Path:
    return symbol_dir / "windows" / pdb_name / f"{guid}-{age}.json.xz"


def write_isf(document: dict, symbol_dir: Path) -> Path:
    """Write ``document`` where Volatility3 looks for it; deterministic bytes."""
    pdb = document["metadata"]["windows"]["pdb"]
    path = isf_path(symbol_dir, pdb["database"], pdb["GUID"], pdb["age"])
    path.parent.mkdir(parents=True, exist_ok=True)
    data = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    path.write_bytes(lzma.compress(data, preset=6))
    return path
