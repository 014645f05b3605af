"""A run of memory tiled by variable-size pieces: first-fit allocation with splitting,
freeing with coalescing of free neighbours.

Both small-block allocators of the factory tile memory this way: a VS subsegment of
the segment heap by chunks (segment-heap-pool.md §4: chunks tile the range) and a
pre-19H1 pool page by blocks (§8: blocks tile each page). A free piece remembers the
block whose header starts it (its tag stays in memory [WD "(Free) SeSd"]).
"""
from __future__ import annotations

from dataclasses import dataclass

from .pool import Block


@dataclass
class Piece:
    offset: int  # from the start of the run
    size: int  # bytes, header(s) included
    block: Block | None = None  # the block whose header starts the piece (last one, if free)
    allocated: bool = False


class TiledRun:
    """Pieces covering [start, end) of one run, in address order."""

    def __init__(self, start: int, end: int, min_free: int) -> None:
        """``min_free``: the smallest free piece the allocator can keep (a remainder
        below it stays with the allocated piece)."""
        self.pieces = [Piece(start, end - start)]
        self.min_free = min_free

    def take(self, size: int, fits=None) -> Piece | None:
        """First fit: the allocated piece (at least ``size`` bytes), or None.
        ``fits(offset, size)`` may veto a candidate position."""
        for index, piece in enumerate(self.pieces):
            if piece.allocated or piece.size < size:
                continue
            if fits is not None and not fits(piece.offset, size):
                continue
            remainder = piece.size - size
            if remainder >= self.min_free:
                self.pieces.insert(index + 1, Piece(piece.offset + size, remainder))
                piece.size = size
            piece.allocated = True
            piece.block = None
            return piece
        return None

    def release(self, piece: Piece) -> None:
        """Free a piece and merge it with free neighbours (the lower header survives)."""
        piece.allocated = False
        index = self.pieces.index(piece)
        if index + 1 < len(self.pieces) and not self.pieces[index + 1].allocated:
            piece.size += self.pieces.pop(index + 1).size
        if index > 0 and not self.pieces[index - 1].allocated:
            self.pieces[index - 1].size += self.pieces.pop(index).size
