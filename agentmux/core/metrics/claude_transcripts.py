"""Claude Code transcripts: find a session's files and read its usage, turns and failures.

A session's transcript is ``<config>/projects/<encoded cwd>/<session id>.jsonl`` (config:
``CLAUDE_CONFIG_DIR``, else ``~/.claude``), and each subagent it ran writes
``<session id>/subagents/*.jsonl`` beside it: real spend of the same session. The bundled demo
agent writes the same format and is read by the same code.

Reading is incremental: each file's byte offset is remembered, and a catch-up reads only what was
appended. A last line without its newline is still being written: it is left for the next read.
A complete line that is not JSON is skipped and counted. Most of a transcript's bytes are tool
results, which can carry no usage: a line whose first kilobyte shows it is one is not parsed
(only checked to look like a JSON object), which is what makes a cold read fast. Most of the
rest are responses: where msgspec is installed, a response line is decoded for just the fields
it counts (`counted_fast`), its content skipped unbuilt; any line that path is unsure of is
parsed in full, and whatever it does answer is what the full parse gives (`counted_of`).

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
import importlib
import multiprocessing
import os
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from io import FileIO
from multiprocessing.context import BaseContext
from pathlib import Path
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic_core import from_json

from agentmux.core.metrics.usage import (
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
PARALLEL_FROM = 128 << 20  # bytes: below this, starting a worker process costs more than it saves

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


def parse_object(line: bytes | bytearray) -> dict[str, Any] | None:
    """One JSONL line as a JSON object, or None when it is not one (callers count it as
    malformed unless it is blank)."""
    try:
        record = from_json(line, cache_strings="keys")
    except ValueError:
        return None
    return record if type(record) is dict else None


def _zone(name: str | None) -> tzinfo:
    if name:
        try:
            return ZoneInfo(name.strip())
        except (ZoneInfoNotFoundError, ValueError):
            pass
    local = datetime.now().astimezone().tzinfo
    return local if local is not None else UTC


def _looks_like_object(data: bytes | bytearray, start: int, end: int) -> bool:
    """Whether ``data[start:end]`` is blank or starts with ``{`` and ends with ``}``."""
    while start < end and data[start] in b" \t\r":
        start += 1
    while end > start and data[end - 1] in b" \t\r":
        end -= 1
    return start == end or (data[start] == 0x7B and data[end - 1] == 0x7D)


def _count(value: object) -> int:
    return value if type(value) is int and value > 0 else 0


def _counts(fresh: object, output: object, written: object, split: object, read: object) -> Counts:
    """(input, output, 5-minute writes, 1-hour writes, cache reads) from a usage's raw fields."""
    total = _count(written)
    one_hour = 0
    if isinstance(split, dict):
        one_hour = _count(split.get("ephemeral_1h_input_tokens"))
        five_min = _count(split.get("ephemeral_5m_input_tokens"))
        # The total is what the API billed; the split only says at which rate. Parts larger
        # than the total would be a broken record: then the parts are all we have.
        total = max(total, five_min + one_hour)
    return (_count(fresh), _count(output), total - one_hour, one_hour, _count(read))


def _usage_of(raw: Mapping[str, Any]) -> Counts:
    """(input, output, 5-minute writes, 1-hour writes, cache reads) of a ``message.usage``."""
    return _counts(
        raw.get("input_tokens"),
        raw.get("output_tokens"),
        raw.get("cache_creation_input_tokens"),
        raw.get("cache_creation"),
        raw.get("cache_read_input_tokens"),
    )


def _key_part(value: object) -> object:
    """``value`` as part of a dict key: JSON arrays and objects are not hashable, their text is."""
    return value if value is None or isinstance(value, str | int | float) else repr(value)


Counts = tuple[int, int, int, int, int]  # input, output, 5-minute and 1-hour writes, reads
# What one assistant record counts: (not a sidechain, model, raw timestamp, time, message id,
# request id, counts, speed other than standard).
Counted = tuple[bool, str, str, datetime, object, object, Counts, str | None]


def counted_of(record: Mapping[str, Any]) -> Counted | None:
    """What a parsed ``assistant`` record counts; ``None`` if it counts nothing (or is synthetic).

    The reference for `counted_fast`: both are read by the same `_response`.
    """
    message = record.get("message")
    if not isinstance(message, dict):
        return None
    model = message.get("model")
    if record.get("isApiErrorMessage") is True or model == SYNTHETIC_MODEL:
        return None
    raw = message.get("usage")
    stamp = record.get("timestamp")
    when = parse_time(stamp)
    if not isinstance(raw, dict) or not isinstance(model, str) or when is None:
        return None
    assert isinstance(stamp, str)
    speed = raw.get("speed")
    return (
        record.get("isSidechain") is not True,
        model,
        stamp,
        when,
        _key_part(message.get("id")),
        _key_part(record.get("requestId")),
        _usage_of(raw),
        speed if isinstance(speed, str) and speed != "standard" else None,
    )


def _fast_decoder() -> (
    tuple[Callable[[bytes | bytearray], Any], tuple[type[Exception], ...]] | None
):
    """msgspec's decoder of just the fields a response record counts, if msgspec is installed.

    It still checks the whole line is JSON, but skips what it is not asked for (the message's
    content: most of the line) without building any of it, which is where a full parse spends
    its time. The fields are typed as a response has them (token counts as non-negative
    integers, ids as strings, ...): a line with anything else fails to decode, and is parsed in
    full instead.
    """
    try:
        msgspec = importlib.import_module("msgspec")
    except ImportError:  # pragma: no cover - the full parse does the same work, slower
        return None
    count = Annotated[int, msgspec.Meta(ge=0)]
    text = str | None
    flag = bool | None
    split = msgspec.defstruct(
        "_Split",
        [("ephemeral_1h_input_tokens", count, 0), ("ephemeral_5m_input_tokens", count, 0)],
    )
    usage = msgspec.defstruct(
        "_Usage",
        [
            ("input_tokens", count, 0),
            ("output_tokens", count, 0),
            ("cache_creation_input_tokens", count, 0),
            ("cache_creation", split | None, None),
            ("cache_read_input_tokens", count, 0),
            ("speed", Any, None),
        ],
    )
    message = msgspec.defstruct(
        "_Message", [("id", text, None), ("model", text, None), ("usage", usage | None, None)]
    )
    record = msgspec.defstruct(
        "_Record",
        [
            ("type", text, None),
            ("message", message | None, None),
            ("isSidechain", flag, None),
            ("isApiErrorMessage", flag, None),
            ("requestId", text, None),
            ("timestamp", text, None),
        ],
    )
    # Text in a decoded field that is not UTF-8 raises UnicodeDecodeError, a ValueError.
    return msgspec.json.Decoder(record).decode, (msgspec.MsgspecError, ValueError)


_FAST = _fast_decoder()


def counted_fast(line: bytes | bytearray) -> Counted | None:
    """What an ``assistant`` line counts, found without parsing all of it; ``None`` if unsure.

    Unsure means the line needs the full parse: not JSON to msgspec, not a counted assistant
    record (a synthetic one, one without usage, another type), or fields of unexpected types.
    Whenever this gives an answer it is `counted_of` of the full parse (a property test holds
    it to that), so the reader may trust it without parsing the line again.
    """
    if _FAST is None:
        return None
    decode, error = _FAST
    try:
        record = decode(line)
    except error:
        return None
    message = record.message
    if record.type != "assistant" or message is None or record.isApiErrorMessage is True:
        return None
    raw = message.usage
    model = message.model
    stamp = record.timestamp
    if raw is None or model is None or model == SYNTHETIC_MODEL or stamp is None:
        return None
    when = parse_time(stamp)
    if when is None:
        return None
    if not line.isascii():
        # msgspec does not check that the text it skips is UTF-8; the full parse rejects a
        # line that is not.
        try:
            line.decode()
        except UnicodeDecodeError:
            return None
    written = raw.cache_creation_input_tokens
    one_hour = 0
    split = raw.cache_creation
    if split is not None:
        one_hour = split.ephemeral_1h_input_tokens
        written = max(written, split.ephemeral_5m_input_tokens + one_hour)
    speed = raw.speed
    return (
        record.isSidechain is not True,
        model,
        stamp,
        when,
        message.id,
        record.requestId,
        (
            raw.input_tokens,
            raw.output_tokens,
            written - one_hour,
            one_hour,
            raw.cache_read_input_tokens,
        ),
        speed if isinstance(speed, str) and speed != "standard" else None,
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
    counts: Counts
    when: datetime
    speed: str | None
    sample: UsageSample | None = None  # made when a snapshot first needs it

    def loses_to(self, main: bool, total: int, stamp: str, file_rank: tuple[bool, str]) -> bool:
        """Whether a record ranked by these values should be counted instead of this one."""
        if main != self.main:
            return main
        if total != self.total:
            return total > self.total
        if stamp != self.stamp:
            return stamp < self.stamp
        return file_rank < self.file_rank

    def usage_sample(self) -> UsageSample:
        """This response as a point of the spend-over-time chart."""
        if self.sample is None:
            self.sample = UsageSample(self.when, self.model, TokenUsage(*self.counts), self.speed)
        return self.sample


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
            samples=tuple(r.usage_sample() for r in self._responses.values()),
            agent_reported=self._reported,
            agent_reported_cost=self._reported_cost,
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
        fast = _FAST is not None
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
                    ) and not _looks_like_object(buffer, pos, end):
                        self.malformed_lines += 1
                    pos = end + 1
                    continue
            line = buffer[pos:end]
            pos = end + 1
            if fast and line.rfind(_USAGE) >= 0:
                # Most likely a response (whose usage is near its end: hence rfind). The same
                # needle passes the test below, so this line would be parsed in full anyway.
                counted = counted_fast(line)
                if counted is not None:
                    self._response(state, number - 1, counted)
                    continue
            elif (
                _USAGE not in line
                and (_USER not in line or (_TOOL_RESULT in line and _INTERRUPTED not in line))
                and _COST_STATE not in line
            ):
                # Can carry neither usage nor a prompt nor an interruption: skip the parse, but
                # still notice a line that is plainly not a JSON object (a torn write).
                if not _looks_like_object(line, 0, len(line)):
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
        if record.get("isApiErrorMessage") is True or message.get("model") == SYNTHETIC_MODEL:
            when = parse_time(record.get("timestamp"))
            if record.get("isSidechain") is not True and when is not None:
                self._synthetic(state, record, message, when, number)
            return
        counted = counted_of(record)
        if counted is not None:
            self._response(state, number, counted)

    def _response(self, state: _File, number: int, counted: Counted) -> None:
        """Count one response record, unless one already counted for it outranks it."""
        main, model, stamp, when, message_id, request_id, counts, speed = counted
        if main and state.pending is not None:
            self._answered(state)
        if self._first is None or when < self._first:
            self._first = when
        if self._last is None or when > self._last:
            self._last = when
        key: tuple[str, object] = (
            (message_id, request_id)
            if isinstance(message_id, str)
            else (f"{state.path}:{number}", None)
        )
        total = counts[0] + counts[1] + counts[2] + counts[3] + counts[4]
        current = self._responses.get(key)
        if current is None:
            self._responses[key] = _Response(
                main, total, stamp, state.rank, model, counts, when, speed
            )
        else:
            if not current.loses_to(main, total, stamp, state.rank):
                return
            self._add(current.model, current.counts, -1)
            current.main = main
            current.total = total
            current.stamp = stamp
            current.file_rank = state.rank
            current.model = model
            current.counts = counts
            current.when = when
            current.speed = speed
            current.sample = None
        self._add(model, counts, 1)

    def _add(self, model: str, counts: Counts, sign: int) -> None:
        totals = self._by_model.get(model)
        if totals is None:
            totals = self._by_model[model] = [0, 0, 0, 0, 0]
        totals[0] += sign * counts[0]
        totals[1] += sign * counts[1]
        totals[2] += sign * counts[2]
        totals[3] += sign * counts[3]
        totals[4] += sign * counts[4]
        if sign < 0 and not any(totals):
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
        server.set_forkserver_preload([__name__])  # workers start with this module loaded
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
