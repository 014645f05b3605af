"""The limits on extracting a container's member (``scan --tmp-quota``, ``--max-ratio``),
in a module of their own so that the command line reads the defaults without importing
the readers."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Limits:
    quota: int = 8 << 30         # bytes one extracted member may take on disk
    max_ratio: float = 1000.0    # expanded / container size (deflate's own limit is ~1032)
