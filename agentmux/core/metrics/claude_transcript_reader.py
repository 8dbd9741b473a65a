"""Incremental readers of Claude Code transcripts: a set of files, or one session by its id.

Reading is incremental: each file's byte offset is remembered, and a catch-up reads only what was
appended (see `jsonl_reading`). A complete line that is not JSON is skipped and counted. Most of
a transcript's bytes are tool results, which can carry no usage: a line whose first kilobyte
shows it is one is not parsed (only checked to look like a JSON object), which is what makes a
cold read fast. Most of the rest are responses, read by `counted_fast` where it can. Responses
are counted by a `UsageLedger`, prompts and failures by a `TurnLog`.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from agentmux.core.metrics.claude_response_counts import (
    SYNTHETIC_MODEL,
    Counted,
    counted_fast,
    counted_of,
)
from agentmux.core.metrics.claude_transcript_files import (
    claude_config_dir,
    find_main_files,
    subagent_files,
)
from agentmux.core.metrics.claude_turns import INTERRUPTED_MARK, TurnLog
from agentmux.core.metrics.claude_usage_ledger import ResponseKey, UsageLedger
from agentmux.core.metrics.jsonl_reading import (
    looks_like_object,
    parse_object,
    parse_time,
    read_chunks,
)
from agentmux.core.metrics.usage import UsageSnapshot

# Byte tests that let most lines skip JSON parsing. A needle with its quotes only matches a JSON
# token: inside a JSON string a quote is escaped, so text that merely mentions it never matches.
_USAGE = b'"usage"'
_USER = b'"user"'
_TOOL_RESULT = b'"tool_result"'
_ASSISTANT = b'"assistant"'
_COST_STATE = b'"cost-state"'
# A tool result names itself in its first few hundred bytes (ids, cwd, then the content block's
# type): looking at this much of a long line is enough to skip it.
HEAD = 1024
_INTERRUPTED = INTERRUPTED_MARK.encode()


@dataclass(slots=True)
class _File:
    path: Path
    rank: tuple[bool, str]  # (is a subagent file, path): orders ties between files
    offset: int = 0
    lines: int = 0  # complete lines consumed: names a record that has no id
    pending: tuple[str, datetime] | None = None  # a prompt not yet answered
    turn: str | None = None  # the turn later failures belong to


class ClaudeTranscriptReader:
    """Incremental reader of a set of Claude transcript files that make up one session."""

    def __init__(self, paths: Iterable[Path] = ()) -> None:
        self._files: dict[Path, _File] = {}
        self._ledger = UsageLedger()
        self._log = TurnLog()
        self.malformed_lines = 0
        for path in paths:
            self.add_file(path)

    @property
    def files(self) -> list[Path]:
        """The files being read."""
        return list(self._files)

    def add_file(self, path: Path, *, subagent: bool | None = None) -> None:
        """Read ``path`` too (from its start) on the next update."""
        if path in self._files:
            return
        is_sub = path.parent.name == "subagents" if subagent is None else subagent
        self._files[path] = _File(path, (is_sub, str(path)))

    def update(self) -> int:
        """Read whatever was appended since the last call; return the number of bytes consumed."""
        consumed = 0
        for state in list(self._files.values()):
            consumed += self._catch_up(state)
        return consumed

    def snapshot(self) -> UsageSnapshot:
        """The session's figures so far."""
        log = self._log
        return UsageSnapshot(
            by_model=self._ledger.by_model(),
            turns=tuple(sorted(log.turns.values())),
            failed_turns=len(log.failed_turns),
            failures=tuple(sorted(log.failures.values(), key=lambda f: f.time)),
            malformed_lines=self.malformed_lines,
            first=log.first,
            last=log.last,
            samples=self._ledger.samples(),
            agent_reported=self._ledger.reported,
            agent_reported_cost=self._ledger.reported_cost,
        )

    # Reading

    def _catch_up(self, state: _File) -> int:
        try:
            handle = open(state.path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError:
            return 0
        with handle:
            try:
                size = os.fstat(handle.fileno()).st_size
            except OSError:
                return 0
            if size < state.offset:
                # Rewritten in place: read it again; responses, turns and failures are keyed,
                # so nothing already counted is counted twice.
                state.offset = 0
                state.lines = 0
            if size == state.offset:
                return 0
            start = state.offset
            for buffer, cut in read_chunks(handle, state.offset, size):
                self._lines(state, buffer, cut)
                state.offset += cut
            return state.offset - start

    def _lines(self, state: _File, buffer: bytearray, cut: int) -> None:
        """Handle the complete lines in ``buffer[:cut]`` (``cut`` is just past a newline)."""
        find = buffer.find
        number = state.lines
        pos = 0
        while pos < cut:
            end = find(b"\n", pos, cut)
            number += 1
            if end - pos > HEAD:
                head = pos + HEAD
                if (
                    find(_TOOL_RESULT, pos, head) >= 0
                    and find(_ASSISTANT, pos, head) < 0
                    and find(_INTERRUPTED, pos, head) < 0
                ):
                    # A tool's result (the bulk of a transcript): its head says so, so the
                    # rest of it, often megabytes, is not even scanned.
                    if not (
                        buffer[pos] == 0x7B and buffer[end - 1] == 0x7D
                    ) and not looks_like_object(buffer, pos, end):
                        self.malformed_lines += 1
                    pos = end + 1
                    continue
            line = buffer[pos:end]
            pos = end + 1
            if line.rfind(_USAGE) >= 0:
                # Most likely a response (whose usage is near its end: hence rfind). The same
                # needle makes the line parsed in full below when the fast path is unsure.
                counted = counted_fast(line)
                if counted is not None:
                    self._response(state, number - 1, counted)
                    continue
            elif (
                _USER not in line or (_TOOL_RESULT in line and _INTERRUPTED not in line)
            ) and _COST_STATE not in line:
                # Can carry neither usage nor a prompt nor an interruption: skip the parse, but
                # still notice a line that is plainly not a JSON object (a torn write).
                if not looks_like_object(line, 0, len(line)):
                    self.malformed_lines += 1
                continue
            record = parse_object(line)
            if record is None:
                if line.strip():
                    self.malformed_lines += 1
                continue
            kind = record.get("type")
            if kind == "assistant":
                self._assistant(state, record, number - 1)
            elif kind == "user":
                self._log.user(state, record, number - 1)
            elif kind == "cost-state" and not state.rank[0]:
                self._ledger.cost_state(record)
        state.lines = number

    # Records

    def _assistant(self, state: _File, record: dict[str, Any], number: int) -> None:
        message = record.get("message")
        if not isinstance(message, dict):
            return
        if record.get("isApiErrorMessage") is True or message.get("model") == SYNTHETIC_MODEL:
            when = parse_time(record.get("timestamp"))
            if record.get("isSidechain") is not True and when is not None:
                self._log.synthetic(state, record, message, when, number)
            return
        counted = counted_of(record)
        if counted is not None:
            self._response(state, number, counted)

    def _response(self, state: _File, number: int, counted: Counted) -> None:
        """A response record: it answers the file's pending prompt, and is counted once."""
        main, _, _, when, message_id, request_id, _, _ = counted
        log = self._log
        if main and state.pending is not None:
            log.answered(state)
        if log.first is None or when < log.first:
            log.first = when
        if log.last is None or when > log.last:
            log.last = when
        key: ResponseKey = (
            (message_id, request_id)
            if isinstance(message_id, str)
            else (f"{state.path}:{number}", None)
        )
        self._ledger.count(key, counted, state.rank)


class ClaudeSessionReader(ClaudeTranscriptReader):
    """Incremental reader of one Claude Code session, found by its session id.

    The main transcript may not exist yet when the session starts, and subagent files appear as
    subagents run: each update looks for both before reading.
    """

    def __init__(self, session_id: str, config_dir: Path | None = None) -> None:
        super().__init__()
        self.session_id = session_id
        self.config_dir = config_dir or claude_config_dir()
        self._mains: list[Path] = []

    def discover(self) -> None:
        """Start reading any of the session's files that appeared since the last look."""
        if not self._mains:
            self._mains = find_main_files(self.session_id, self.config_dir)
        for main in self._mains:
            self.add_file(main, subagent=False)
            for sub in subagent_files(main):
                self.add_file(sub, subagent=True)

    def update(self) -> int:
        """Look for new files, then read what was appended; return the bytes consumed."""
        self.discover()
        return super().update()
