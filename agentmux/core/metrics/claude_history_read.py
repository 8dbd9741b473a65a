"""Many Claude Code sessions read from scratch at once (a report over history), on every core
when it pays."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from datetime import datetime
from multiprocessing.context import BaseContext
from pathlib import Path

from agentmux.core.metrics.claude_response_counts import Counts
from agentmux.core.metrics.claude_transcript_files import claude_config_dir, find_session_files
from agentmux.core.metrics.claude_transcript_reader import ClaudeSessionReader
from agentmux.core.metrics.usage import TokenUsage, UsageSample, UsageSnapshot

PARALLEL_FROM = 128 << 20  # bytes: below this, starting a worker process costs more than it saves


def _read_batch(sessions: list[str], config_dir: Path) -> list[tuple[str, UsageSnapshot]]:
    out = []
    for session in sessions:
        reader = ClaudeSessionReader(session, config_dir)
        reader.update()
        out.append((session, reader.snapshot()))
    return out


# A session's snapshot without its samples, and the samples as plain values: what a worker
# process sends back. Unpickling one sample object by object costs the waiting parent about
# three times what making it again from plain values does.
_Packed = tuple[str, UsageSnapshot, list[tuple[datetime, str, Counts, str | None]]]


def _read_packed(sessions: list[str], config_dir: Path) -> list[_Packed]:
    out = []
    for session, snap in _read_batch(sessions, config_dir):
        samples = [
            (
                s.time,
                s.model,
                (u.input, u.output, u.cache_write_5m, u.cache_write_1h, u.cache_read),
                s.speed,
            )
            for s in snap.samples
            for u in (s.usage,)
        ]
        out.append((session, replace(snap, samples=()), samples))
    return out


def _unpack(packed: list[_Packed]) -> Iterator[tuple[str, UsageSnapshot]]:
    for session, snap, samples in packed:
        made = tuple(
            UsageSample(when, model, TokenUsage(*counts), speed)
            for when, model, counts, speed in samples
        )
        yield session, replace(snap, samples=made)


def read_sessions(
    session_ids: Iterable[str],
    config_dir: Path | None = None,
    *,
    workers: int | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> dict[str, UsageSnapshot]:
    """Read many sessions from scratch (a report over history), on every core when it pays.

    With at least ``parallel_from`` bytes to read, sessions are shared out, largest first, to
    ``workers`` processes (default: one a core), this one included; below that, or with one
    core, they are read here alone. The result is the same either way.
    """
    root = config_dir or claude_config_dir()
    sizes: dict[str, int] = {}
    for session in session_ids:
        total = 0
        for path in find_session_files(session, root):
            with contextlib.suppress(OSError):
                total += path.stat().st_size
        sizes[session] = total
    count = min(workers or os.cpu_count() or 1, len(sizes))
    if count <= 1 or sum(sizes.values()) < parallel_from:
        return dict(_read_batch(list(sizes), root))
    batches: list[list[str]] = [[] for _ in range(count)]
    loads = [0] * count
    for session in sorted(sizes, key=lambda s: -sizes[s]):
        lightest = loads.index(min(loads))
        batches[lightest].append(session)
        loads[lightest] += sizes[session]
    # Not fork: the caller may be a threaded program (the TUI); a fork server is safe there.
    context: BaseContext
    if "forkserver" in multiprocessing.get_all_start_methods():
        server = multiprocessing.get_context("forkserver")
        server.set_forkserver_preload([__name__])  # workers start with the readers loaded
        context = server
    else:
        context = multiprocessing.get_context("spawn")
    results: dict[str, UsageSnapshot] = {}
    with ProcessPoolExecutor(count - 1, mp_context=context) as pool:
        # This process reads one share itself while the others are started and read theirs:
        # one process fewer to start, and one share fewer to send back.
        futures = [pool.submit(_read_packed, batch, root) for batch in batches[1:]]
        results.update(_read_batch(batches[0], root))
        for future in futures:
            results.update(_unpack(future.result()))
    return {session: results[session] for session in sizes}
