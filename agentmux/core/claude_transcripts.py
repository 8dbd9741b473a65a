"""Claude Code transcripts: find a session's files and read its usage, turns and failures.

A session's transcript is ``<config>/projects/<encoded cwd>/<session id>.jsonl`` (config:
``CLAUDE_CONFIG_DIR``, else ``~/.claude``), and each subagent it ran writes
``<session id>/subagents/*.jsonl`` beside it: real spend of the same session. The bundled demo
agent writes the same format and is read by the same code.

Reading is incremental: each file's byte offset is remembered, and a catch-up reads only what was
appended. A last line without its newline is still being written: it is left for the next read.
A complete line that is not JSON is skipped and counted. Most of a transcript's bytes are tool
results, which can carry no usage: a line whose first kilobyte shows it is one is not parsed
(only checked to look like a JSON object), which is what makes a cold read fast.

Counting follows the API's bill, once per response. Claude Code writes one response as several
``assistant`` lines sharing ``message.id`` (and ``requestId``), the early ones with a placeholder
``output_tokens``; of those the record with the largest token total is kept, and a
non-sidechain record beats a sidechain one whatever its size (a subagent's replay of its parent's
message is not new spend). The choice does not depend on the order records are read in, so a
catch-up in many small steps ends with the same figures as one cold read.

Turns: a turn is a user prompt (not a tool result, not meta, not a notice Claude Code sends
itself) that the agent answered or failed on: local commands such as ``/model`` never reach the
model and are not turns. Failures are API
errors (synthetic ``isApiErrorMessage`` records, which cost nothing), usage and rate limits, and
user interruptions; a turn with any failure is a failed turn. Only the main conversation's
records (not sidechains) make turns and failures, so a subagent's error, which its parent also
meets, is not counted twice.

Claude Code 2.1.3xx also writes a ``cost-state`` record (its own running account, title
requests included); it is kept apart as ``agent_reported``, a cross-check, never added in.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Any, BinaryIO
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_core import from_json

from agentmux.core.usage import (
    Failure,
    FailureKind,
    TokenUsage,
    UsageByModel,
    UsageSample,
    UsageSnapshot,
)

SYNTHETIC_MODEL = "<synthetic>"
INTERRUPTED_MARK = "[Request interrupted by user"
CHUNK = 8 << 20
PARALLEL_FROM = 64 << 20  # bytes: below this, starting worker processes costs more than it saves

# Usage-limit wording has changed across Claude Code versions; these cover the known ones
# ("Claude AI usage limit reached|<epoch>", "5-hour limit reached ∙ resets 5pm",
# "You've hit your limit · resets 5pm (Europe/Berlin)", "Your limit will reset at 5pm").
_USAGE_LIMIT = re.compile(
    r"usage limit|limit reached|hit your (?:[\w-]+ )*limit|out of extra usage|limit will reset",
    re.IGNORECASE,
)
_EPOCH_RESET = re.compile(r"\|(\d{10,13})\b")
_CLOCK_RESET = re.compile(
    r"(?:resets?|try again)\s+(?:at\s+)?"
    r"(?:(?P<mon>[A-Z][a-z]{2})[a-z]*\.?\s+(?P<day>\d{1,2}),?\s+(?:at\s+)?)?"
    r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>[ap]\.?m\.?)?"
    r"(?:\s*\((?P<tz>[^)]+)\))?",
    re.IGNORECASE,
)
_API_STATUS = re.compile(r"API Error:?\s*(\d{3})\b")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1
    )
}

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


def claude_config_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Claude Code's configuration directory: ``CLAUDE_CONFIG_DIR``, else ``~/.claude``."""
    env = os.environ if environ is None else environ
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".claude"


def find_session_files(session_id: str, config_dir: Path | None = None) -> list[Path]:
    """Every transcript file of one session: its main file(s), then its subagents' files.

    Found by session id across all project directories, since different working directories can
    encode to the same directory name.
    """
    mains = find_main_files(session_id, config_dir)
    subs: list[Path] = []
    for main in mains:
        subs.extend(_subagent_files(main))
    return mains + subs


def find_main_files(session_id: str, config_dir: Path | None = None) -> list[Path]:
    """The session's main transcript file(s), ``<config>/projects/*/<session id>.jsonl``."""
    root = (config_dir or claude_config_dir()) / "projects"
    return sorted(root.glob(f"*/{glob_escape(session_id)}.jsonl"))


def glob_escape(text: str) -> str:
    """``text`` with glob metacharacters made literal."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def _subagent_files(main: Path) -> list[Path]:
    folder = main.with_suffix("") / "subagents"
    try:
        names = [entry.name for entry in os.scandir(folder) if entry.name.endswith(".jsonl")]
    except OSError:
        return []
    return [folder / name for name in sorted(names)]


def read_lines(handle: BinaryIO, start: int, end: int) -> Iterator[tuple[bytes, int]]:
    """Chunks of ``handle`` from ``start`` up to ``end``, each cut after its last newline.

    Yields ``(buffer, cut)``: ``buffer[:cut]`` holds complete lines. A line longer than a chunk
    is read whole; a last line without its newline is not yielded (it is still being written).
    """
    chunk = CHUNK
    pos = start
    while pos < end:
        handle.seek(pos)
        buffer = handle.read(min(chunk, end - pos))
        if not buffer:
            return
        cut = buffer.rfind(b"\n") + 1
        if cut == 0:
            if pos + len(buffer) >= end:
                return
            chunk *= 2  # one line longer than the chunk: read it whole next time
            continue
        yield buffer, cut
        pos += cut
        chunk = CHUNK


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 timestamp as an aware datetime (UTC if it names no zone), else ``None``."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def is_usage_limit(text: str) -> bool:
    """Whether an agent's error text says a plan usage limit was reached."""
    return _USAGE_LIMIT.search(text) is not None


def stated_reset(text: str, when: datetime) -> datetime | None:
    """The reset time an error text states, resolved against the time it was written.

    Understands an epoch after ``|`` and clock times such as ``resets 5pm (Europe/Berlin)`` or
    ``resets Oct 9, 5pm``; a clock time without a zone is the machine's local time (the agent
    runs here). A time already past on that day means the next day.
    """
    epoch = _EPOCH_RESET.search(text)
    if epoch:
        seconds = int(epoch.group(1))
        if seconds > 10**11:
            seconds //= 1000
        return datetime.fromtimestamp(seconds, tz=UTC)
    clock = _CLOCK_RESET.search(text)
    if clock is None:
        return None
    hour = int(clock["hour"])
    minute = int(clock["minute"] or 0)
    ampm = (clock["ampm"] or "").lower().replace(".", "")
    if ampm == "pm" and hour < 12:
        hour += 12
    elif ampm == "am" and hour == 12:
        hour = 0
    if hour > 23 or minute > 59:
        return None
    zone = _zone(clock["tz"])
    local = when.astimezone(zone)
    try:
        if clock["mon"]:
            month = _MONTHS.get(clock["mon"][:3].lower())
            if month is None:
                return None
            candidate = local.replace(
                month=month, day=int(clock["day"]), hour=hour, minute=minute, second=0
            )
            if candidate < local - timedelta(days=1):
                candidate = candidate.replace(year=candidate.year + 1)
        else:
            candidate = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
            if candidate <= local:
                candidate += timedelta(days=1)
    except ValueError:
        return None
    return candidate.replace(microsecond=0)


def _zone(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def _looks_like_object(data: bytes, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` is blank or starts with ``{`` and ends with ``}``."""
    while start < end and data[start] in b" \t\r":
        start += 1
    while end > start and data[end - 1] in b" \t\r":
        end -= 1
    return start == end or (data[start] == 0x7B and data[end - 1] == 0x7D)


def _count(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


def _usage_of(raw: Mapping[str, Any]) -> tuple[int, int, int, int, int]:
    """(input, output, 5-minute writes, 1-hour writes, cache reads) of a ``message.usage``."""
    written = _count(raw.get("cache_creation_input_tokens"))
    one_hour = 0
    split = raw.get("cache_creation")
    if isinstance(split, dict):
        one_hour = _count(split.get("ephemeral_1h_input_tokens"))
        five_min = _count(split.get("ephemeral_5m_input_tokens"))
        # The total is what the API billed; the split only says at which rate. Parts larger
        # than the total would be a broken record: then the parts are all we have.
        written = max(written, five_min + one_hour)
    return (
        _count(raw.get("input_tokens")),
        _count(raw.get("output_tokens")),
        written - one_hour,
        one_hour,
        _count(raw.get("cache_read_input_tokens")),
    )


def _texts(content: object) -> list[str]:
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if isinstance(content, list):
        for block in content:
            if not isinstance(block, dict):
                continue
            if block.get("type") == "text" and isinstance(block.get("text"), str):
                texts.append(block["text"])
            elif block.get("type") == "tool_result" and isinstance(block.get("content"), str):
                texts.append(block["content"])
    return texts


def _has_tool_result(content: object) -> bool:
    return isinstance(content, list) and any(
        isinstance(block, dict) and block.get("type") == "tool_result" for block in content
    )


@dataclass(slots=True)
class _Response:
    """The record currently counted for one API response, and how it ranks."""

    main: bool  # not a sidechain record
    total: int
    stamp: str  # raw timestamp: the earlier record wins a tie
    file_rank: tuple[bool, str]  # then the main file, then the path
    model: str
    usage: TokenUsage

    def loses_to(self, main: bool, total: int, stamp: str, file_rank: tuple[bool, str]) -> bool:
        """Whether a record ranked by these values should be counted instead of this one."""
        if main != self.main:
            return main
        if total != self.total:
            return total > self.total
        if stamp != self.stamp:
            return stamp < self.stamp
        return file_rank < self.file_rank


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
        self._responses: dict[tuple[str, object], _Response] = {}
        self._samples: dict[tuple[str, object], UsageSample] = {}
        self._by_model: dict[str, list[int]] = {}
        self._turns: dict[str, datetime] = {}
        self._failures: dict[str, Failure] = {}
        self._failed_turns: set[str] = set()
        self._interrupted_turns: set[str] = set()
        self._first: datetime | None = None
        self._last: datetime | None = None
        self._reported: UsageByModel | None = None
        self._reported_cost: Decimal | None = None
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
        by_model = UsageByModel(
            {model: TokenUsage(*counts) for model, counts in self._by_model.items()}
        )
        return UsageSnapshot(
            by_model=by_model,
            turns=tuple(sorted(self._turns.values())),
            failed_turns=len(self._failed_turns),
            failures=tuple(sorted(self._failures.values(), key=lambda f: f.time)),
            malformed_lines=self.malformed_lines,
            first=self._first,
            last=self._last,
            samples=tuple(self._samples.values()),
            agent_reported=self._reported,
            agent_reported_cost=self._reported_cost,
        )

    # Reading

    def _catch_up(self, state: _File) -> int:
        try:
            handle = open(state.path, "rb")  # noqa: SIM115 - closed below, after the size check
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
            for buffer, cut in read_lines(handle, state.offset, size):
                self._lines(state, buffer, cut)
                state.offset += cut
            return state.offset - start

    def _lines(self, state: _File, buffer: bytes, cut: int) -> None:
        """Handle the complete lines in ``buffer[:cut]`` (``cut`` is just past a newline)."""
        find = buffer.find
        number = state.lines
        pos = 0
        while pos < cut:
            end = find(b"\n", pos, cut)
            number += 1
            if end - pos > HEAD:
                head = buffer[pos : pos + HEAD]
                if _TOOL_RESULT in head and _ASSISTANT not in head and _INTERRUPTED not in head:
                    # A tool's result (the bulk of a transcript): its head says so, so the
                    # rest of it, often megabytes, is not even scanned.
                    if not _looks_like_object(buffer, pos, end):
                        self.malformed_lines += 1
                    pos = end + 1
                    continue
            line = buffer[pos:end]
            pos = end + 1
            if (
                _USAGE not in line
                and (_USER not in line or (_TOOL_RESULT in line and _INTERRUPTED not in line))
                and _COST_STATE not in line
            ):
                # Can carry neither usage nor a prompt nor an interruption: skip the parse, but
                # still notice a line that is plainly not a JSON object (a torn write).
                if not _looks_like_object(line, 0, len(line)):
                    self.malformed_lines += 1
                continue
            try:
                record = from_json(line, cache_strings="keys")
            except ValueError:
                if line.strip():
                    self.malformed_lines += 1
                continue
            if type(record) is not dict:
                self.malformed_lines += 1
                continue
            kind = record.get("type")
            if kind == "assistant":
                self._assistant(state, record, number - 1)
            elif kind == "user":
                self._user(state, record, number - 1)
            elif kind == "cost-state" and not state.rank[0]:
                self._cost_state(record)
        state.lines = number

    # Records

    def _seen(self, when: datetime) -> None:
        if self._first is None or when < self._first:
            self._first = when
        if self._last is None or when > self._last:
            self._last = when

    def _assistant(self, state: _File, record: dict[str, Any], number: int) -> None:
        message = record.get("message")
        if not isinstance(message, dict):
            return
        main = record.get("isSidechain") is not True
        model = message.get("model")
        stamp = record.get("timestamp")
        when = parse_time(stamp)
        if record.get("isApiErrorMessage") is True or model == SYNTHETIC_MODEL:
            if main and when is not None:
                self._synthetic(state, record, message, when, number)
            return
        raw = message.get("usage")
        if not isinstance(raw, dict) or not isinstance(model, str) or when is None:
            return
        assert isinstance(stamp, str)
        if main:
            self._answered(state)
        self._seen(when)
        message_id = message.get("id")
        key: tuple[str, object] = (
            (message_id, record.get("requestId"))
            if isinstance(message_id, str)
            else (f"{state.path}:{number}", None)
        )
        counts = _usage_of(raw)
        total = sum(counts)
        current = self._responses.get(key)
        if current is not None:
            if not current.loses_to(main, total, stamp, state.rank):
                return
            self._add(current.model, current.usage, -1)
        usage = TokenUsage(*counts)
        self._responses[key] = _Response(main, total, stamp, state.rank, model, usage)
        self._add(model, usage, 1)
        speed = raw.get("speed")
        self._samples[key] = UsageSample(
            when, model, usage, speed if isinstance(speed, str) and speed != "standard" else None
        )

    def _add(self, model: str, usage: TokenUsage, sign: int) -> None:
        counts = self._by_model.get(model)
        if counts is None:
            counts = self._by_model[model] = [0, 0, 0, 0, 0]
        counts[0] += sign * usage.input
        counts[1] += sign * usage.output
        counts[2] += sign * usage.cache_write_5m
        counts[3] += sign * usage.cache_write_1h
        counts[4] += sign * usage.cache_read
        if sign < 0 and not any(counts):
            del self._by_model[model]

    def _answered(self, state: _File) -> None:
        if state.pending is None:
            return
        turn_id, when = state.pending
        state.pending = None
        state.turn = turn_id
        if turn_id not in self._turns:
            self._turns[turn_id] = when
            self._seen(when)

    def _fail(self, state: _File, key: str, failure: Failure) -> None:
        self._answered(state)
        if key in self._failures:
            return
        if failure.kind is FailureKind.INTERRUPTED and state.turn is not None:
            if state.turn in self._interrupted_turns:
                return  # a tool result and a text block can both report one interruption
            self._interrupted_turns.add(state.turn)
        self._failures[key] = failure
        self._seen(failure.time)
        if state.turn is not None:
            self._failed_turns.add(state.turn)

    def _synthetic(
        self,
        state: _File,
        record: dict[str, Any],
        message: dict[str, Any],
        when: datetime,
        number: int,
    ) -> None:
        text = " ".join(_texts(message.get("content"))).strip()
        limited = is_usage_limit(text)
        if (
            record.get("isApiErrorMessage") is not True
            and not limited
            and not text.startswith("API Error")
        ):
            return  # e.g. "No response requested." after an interruption: not a failure
        status = record.get("apiErrorStatus")
        if type(status) is not int:
            match = _API_STATUS.search(text)
            status = int(match.group(1)) if match else None
        error = record.get("error")
        if limited:
            kind = FailureKind.USAGE_LIMIT
        elif status == 429 or error in ("rate_limit", "rate_limit_error"):
            kind = FailureKind.RATE_LIMIT
        else:
            kind = FailureKind.API_ERROR
        resets = stated_reset(text, when) if kind is not FailureKind.API_ERROR else None
        key = record.get("uuid") or message.get("id") or f"{state.path}:{number}"
        self._fail(
            state,
            str(key),
            Failure(
                time=when,
                kind=kind,
                reason=text or str(error or ""),
                status=status,
                resets_at=resets,
            ),
        )

    def _cost_state(self, record: dict[str, Any]) -> None:
        models = record.get("modelUsage")
        if not isinstance(models, dict):
            return
        reported: dict[str, TokenUsage] = {}
        for model, raw in models.items():
            if not isinstance(raw, dict):
                continue
            written = _count(raw.get("cacheCreationInputTokens"))
            one_hour = min(_count(raw.get("cacheCreationEphemeral1hInputTokens")), written)
            reported[model] = TokenUsage(
                input=_count(raw.get("inputTokens")),
                output=_count(raw.get("outputTokens")),
                cache_write_5m=written - one_hour,
                cache_write_1h=one_hour,
                cache_read=_count(raw.get("cacheReadInputTokens")),
            )
        self._reported = UsageByModel(reported)
        cost = record.get("totalCostUSD")
        unknown = record.get("hasUnknownModelCost") is True
        self._reported_cost = (
            Decimal(str(cost)) if isinstance(cost, int | float) and not unknown else None
        )

    def _user(self, state: _File, record: dict[str, Any], number: int) -> None:
        if record.get("isSidechain") is True or record.get("isMeta") is True:
            return
        message = record.get("message")
        if not isinstance(message, dict):
            return
        when = parse_time(record.get("timestamp"))
        if when is None:
            return
        content = message.get("content")
        key = str(record.get("uuid") or f"{state.path}:{number}")
        for text in _texts(content):
            if text.lstrip().startswith(INTERRUPTED_MARK):
                reason = text.strip()
                self._fail(state, key, Failure(when, FailureKind.INTERRUPTED, reason))
                return
        if _has_tool_result(content) or record.get("isCompactSummary") is True:
            return
        origin = record.get("origin")
        if record.get("promptSource") == "system" or (
            isinstance(origin, dict) and origin.get("kind") not in (None, "human")
        ):
            return  # Claude Code prompting itself (a background task's notification)
        if isinstance(content, str) or any(
            isinstance(block, dict) and block.get("type") in ("text", "image")
            for block in content or ()
        ):
            state.pending = (key, when)


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
            for sub in _subagent_files(main):
                self.add_file(sub, subagent=True)

    def update(self) -> int:
        """Look for new files, then read what was appended; return the bytes consumed."""
        self.discover()
        return super().update()


def _read_batch(sessions: list[str], config_dir: Path) -> list[tuple[str, UsageSnapshot]]:
    out = []
    for session in sessions:
        reader = ClaudeSessionReader(session, config_dir)
        reader.update()
        out.append((session, reader.snapshot()))
    return out


def read_sessions(
    session_ids: Iterable[str],
    config_dir: Path | None = None,
    *,
    workers: int | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> dict[str, UsageSnapshot]:
    """Read many sessions from scratch (a report over history), on every core when it pays.

    With at least ``parallel_from`` bytes to read, sessions are shared out, largest first, to
    ``workers`` processes (default: one a core); below that, or with one core, they are read
    here. The result is the same either way.
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
        server.set_forkserver_preload([__name__])  # workers start with this module loaded
        context = server
    else:
        context = multiprocessing.get_context("spawn")
    results: dict[str, UsageSnapshot] = {}
    with ProcessPoolExecutor(count, mp_context=context) as pool:
        for batch in pool.map(_read_batch, batches, [root] * count):
            results.update(batch)
    return {session: results[session] for session in sizes}
