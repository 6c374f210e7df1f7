"""The RIFF/WAVE ``data`` chunk: how many bytes its header promises and how many the file holds.

Why: libsndfile quietly shortens a WAV whose data chunk was cut off (an interrupted download or
copy) to the frames present, so a half file would be processed as if it were whole. Only the
chunk headers are read (a few seeks), never the samples.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import BinaryIO

_UNKNOWN_SIZES = (0, 0xFFFFFFFF)  # streaming writers leave the size unset (RF64 keeps it elsewhere)


@dataclass(frozen=True)
class DataChunk:
    """Sizes of a WAV's data chunk, in frames (``block_align`` bytes each)."""

    declared_frames: int
    present_frames: int

    @property
    def truncated(self) -> bool:
        return self.present_frames < self.declared_frames


def read_data_chunk(handle: BinaryIO) -> DataChunk | None:
    """The data chunk of a RIFF/WAVE stream (position restored), or None when the stream is not a
    plain RIFF WAV or its data size is unknown."""
    start = handle.tell()
    try:
        handle.seek(0, 2)
        total = handle.tell()
        handle.seek(0)
        head = handle.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = 0
        position = 12
        while position + 8 <= total:
            handle.seek(position)
            chunk_id, size = struct.unpack("<4sI", handle.read(8))
            if chunk_id == b"fmt ":
                fmt = handle.read(16)
                if len(fmt) >= 14:
                    block_align = struct.unpack("<H", fmt[12:14])[0]
            elif chunk_id == b"data":
                if block_align <= 0 or size in _UNKNOWN_SIZES:
                    return None
                present = max(0, total - position - 8)
                return DataChunk(size // block_align, min(size, present) // block_align)
            position += 8 + size + (size & 1)  # chunks are word aligned
        return None
    finally:
        handle.seek(start)
