"""Reading JSONL transcripts that agents are still writing: complete lines, in chunks.

Both agents' readers (Claude Code transcripts, Codex rollouts) read this way: from a remembered
byte offset to the end of the file, a chunk at a time, never past the last newline (a last line
without its newline is still being written, and is left for the next read). A complete line that
is not a JSON object is skipped and counted by the caller.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from io import FileIO
from typing import Any

from pydantic_core import from_json

CHUNK = 8 << 20

_spare: list[bytearray] = []  # one read buffer kept for the next read, whichever thread
_spare_lock = threading.Lock()


def read_chunks(handle: FileIO, start: int, end: int) -> Iterator[tuple[bytearray, int]]:
    """Chunks of ``handle`` from ``start`` up to ``end``, each cut after its last newline.

    Yields ``(buffer, cut)``: ``buffer[:cut]`` holds complete lines. A line longer than a chunk
    is read whole; a last line without its newline is not yielded (it is still being written).
    Every chunk is read into one buffer, kept for the next read.

    A fresh buffer a chunk costs the kernel's page faults for every page of it, on every read:
    reusing one makes a cold read of many files markedly cheaper. Each yielded buffer is valid
    only until the next one is asked for. One buffer (at most `CHUNK` bytes) is kept between
    reads; reads at the same time in other threads make their own.
    """
    with _spare_lock:
        buffer = _spare.pop() if _spare else None
    limit = CHUNK
    pos = start
    try:
        while pos < end:
            want = min(limit, end - pos)
            if buffer is None or len(buffer) < want:
                buffer = bytearray(max(want, 1 << 16))
            handle.seek(pos)
            got = handle.readinto(memoryview(buffer)[:want])
            if not got:
                return
            cut = buffer.rfind(b"\n", 0, got) + 1
            if cut == 0:
                if pos + got >= end:
                    return
                limit *= 2  # one line longer than the chunk: read it whole next time
                continue
            yield buffer, cut
            pos += cut
            limit = CHUNK
    finally:
        # Kept unless grown for one huge line.
        if buffer is not None and len(buffer) <= max(CHUNK, 1 << 16):
            with _spare_lock:
                if not _spare:
                    _spare.append(buffer)


def parse_object(line: bytes | bytearray) -> dict[str, Any] | None:
    """One JSONL line as a JSON object, or None when it is not one (callers count it as
    malformed unless it is blank)."""
    try:
        record = from_json(line, cache_strings="keys")
    except ValueError:
        return None
    return record if type(record) is dict else None


def looks_like_object(data: bytes | bytearray, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` is blank or starts with ``{`` and ends with ``}``: the check
    a line gets when it is skipped unparsed."""
    while start < end and data[start] in b" \t\r":
        start += 1
    while end > start and data[end - 1] in b" \t\r":
        end -= 1
    return start == end or (data[start] == 0x7B and data[end - 1] == 0x7D)


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC if it names no zone), else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
