"""Codex rollouts: find a session's rollout file and read its usage, turns and failures.

Codex writes ``$CODEX_HOME/sessions/YYYY/MM/DD/rollout-<local time>-<id>.jsonl`` (``CODEX_HOME``
defaults to ``~/.codex``), one ``{timestamp, type, payload}`` record a line. The first record is
``session_meta`` (id, cwd, start time); ``turn_context`` names the model; ``event_msg`` records
carry ``task_started`` / ``task_complete`` (turns), ``token_count``, ``error`` and
``turn_aborted``. A turn fails on an ``error`` event, a ``turn_aborted`` by the user, or (Codex
0.169) a ``task_complete`` that carries an ``error``.

Usage comes from ``token_count.info.total_token_usage``, a running total that Codex re-emits
unchanged: what is counted is how much it grew since the previous event (summing
``last_token_usage`` over-counts whenever an event repeats). A total smaller than the one before
means a new Codex process started counting from zero, so its whole total is new. In those totals
``input_tokens`` includes the cached and cache-written input, and ``output_tokens`` includes the
reasoning tokens: fresh input is what is left of ``input_tokens`` after the other two.

Not handled: a forked rollout (``session_meta.forked_from_id``) starts by replaying its
parent's history, ``token_count`` records included, and those are counted again here;
``RolloutMeta.forked_from`` names the parent so a caller can say the figure is doubtful.
agentmux starts its Codex sessions fresh, never as forks.

Reading is incremental with the same rules as for Claude transcripts: byte offsets are kept, a
last line without its newline waits for the next read, and a malformed complete line is skipped
and counted.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from pydantic_core import from_json

from agentmux.core.metrics.failure_text import is_usage_limit, stated_reset
from agentmux.core.metrics.jsonl_reading import parse_object, parse_time, read_chunks
from agentmux.core.metrics.usage import (
    Failure,
    FailureKind,
    TokenUsage,
    UsageByModel,
    UsageSample,
    UsageSnapshot,
)

UNKNOWN_MODEL = "unknown"
_KINDS = (b'"session_meta"', b'"turn_context"', b'"thread_settings_applied"')
_EVENTS = (b'"token_count"', b'"task_started"', b'"task_complete"', b'"turn_aborted"', b'"error"')
_EVENT_MSG = b'"event_msg"'
_TRY_AGAIN_IN = re.compile(
    r"try again in\s+(?:(?P<d>\d+)\s*days?)?[\s,]*(?:(?P<h>\d+)\s*hours?)?[\s,]*"
    r"(?:(?P<m>\d+)\s*min(?:ute)?s?)?",
    re.IGNORECASE,
)
_INTERRUPTING = {"interrupted", "replaced"}


def codex_home(environ: Mapping[str, str] | None = None) -> Path:
    """Codex's home: ``CODEX_HOME``, else ``~/.codex``."""
    env = os.environ if environ is None else environ
    configured = env.get("CODEX_HOME")
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".codex"


@dataclass(frozen=True, slots=True)
class RolloutMeta:
    """A rollout's ``session_meta``: which session it is, where and when it started."""

    path: Path
    session_id: str
    cwd: str
    started: datetime | None
    forked_from: str | None = None


def read_meta(path: Path) -> RolloutMeta | None:
    """The ``session_meta`` of a rollout (its first record), or ``None`` if it has none yet."""
    try:
        with open(path, "rb") as handle:
            line = handle.readline()
    except OSError:
        return None
    if not line.endswith(b"\n"):
        return None
    try:
        record = from_json(line)
    except ValueError:
        return None
    if not isinstance(record, dict) or record.get("type") != "session_meta":
        return None
    payload = record.get("payload")
    if not isinstance(payload, dict):
        return None
    session_id = payload.get("id") or payload.get("session_id")
    cwd = payload.get("cwd")
    forked = payload.get("forked_from_id")
    return RolloutMeta(
        path=path,
        session_id=session_id if isinstance(session_id, str) else "",
        cwd=cwd if isinstance(cwd, str) else "",
        started=parse_time(payload.get("timestamp")) or parse_time(record.get("timestamp")),
        forked_from=forked if isinstance(forked, str) else None,
    )


def rollout_files(home: Path | None = None, since: datetime | None = None) -> list[Path]:
    """Rollout files, oldest day first; with ``since``, only day folders that can hold later ones.

    Day folders are named in the machine's local time, so a day of margin is kept.
    """
    root = (home or codex_home()) / "sessions"
    earliest = (since - timedelta(days=1)).astimezone().strftime("%Y/%m/%d") if since else ""
    found: list[Path] = []
    for year in _sorted_dirs(root):
        for month in _sorted_dirs(year):
            for day in _sorted_dirs(month):
                label = f"{year.name}/{month.name}/{day.name}"
                if label < earliest:
                    continue
                found.extend(sorted(day.glob("rollout-*.jsonl")))
    return found


def _sorted_dirs(folder: Path) -> list[Path]:
    try:
        return sorted(entry for entry in folder.iterdir() if entry.is_dir())
    except OSError:
        return []


def find_rollout(
    *,
    session_id: str | None = None,
    cwd: str | Path | None = None,
    started_after: datetime | None = None,
    home: Path | None = None,
) -> Path | None:
    """The rollout of one Codex session.

    By id when it is known (the file name ends with it, and its ``session_meta`` says so);
    otherwise the earliest rollout whose ``session_meta`` has ``cwd`` (a worktree has one session
    at a time) and started at or after ``started_after``.
    """
    want_cwd = os.path.realpath(cwd) if cwd is not None else None
    best: tuple[datetime, Path] | None = None
    for path in rollout_files(home, started_after):
        if session_id is not None:
            if not path.name.endswith(f"-{session_id}.jsonl"):
                continue
            meta = read_meta(path)
            if meta is not None and meta.session_id == session_id:
                return path
            continue
        meta = read_meta(path)
        if meta is None or want_cwd is None or os.path.realpath(meta.cwd) != want_cwd:
            continue
        started = meta.started or datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if started_after is not None and started < started_after:
            continue
        if best is None or started < best[0]:
            best = (started, path)
    return best[1] if best else None


def _counts(raw: object) -> tuple[int, int, int, int] | None:
    """(input incl. cached and cache writes, cached, cache writes, output) of a usage object."""
    if not isinstance(raw, dict):
        return None

    def get(name: str) -> int:
        value = raw.get(name)
        return value if type(value) is int and value > 0 else 0

    return (
        get("input_tokens"),
        get("cached_input_tokens"),
        get("cache_write_input_tokens"),
        get("output_tokens"),
    )


def _usage(counts: tuple[int, int, int, int]) -> TokenUsage:
    total_in, cached, written, output = counts
    return TokenUsage(
        input=max(total_in - cached - written, 0),
        output=output,
        cache_write_5m=written,
        cache_read=cached,
    )


class CodexRolloutReader:
    """Incremental reader of one Codex rollout file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._reset()

    def _reset(self) -> None:
        self.offset = 0
        self.malformed_lines = 0
        self.meta: RolloutMeta | None = None
        self.new_processes = 0  # times the running total dropped (a new Codex process)
        self.disagreements = 0  # events whose last_token_usage did not match the growth
        self._model: str | None = None
        self._fallback_model: str | None = None
        self._previous: tuple[int, int, int, int] | None = None
        self._by_model: dict[str, TokenUsage] = {}
        self._samples: list[UsageSample] = []
        self._turns: list[datetime] = []
        self._turn_open = False
        self._turn_failed = False
        self._failed_turns = 0
        self._failures: list[Failure] = []
        self._rate_limits: object = None
        self._first: datetime | None = None
        self._last: datetime | None = None

    def update(self) -> int:
        """Read whatever was appended since the last call; return the number of bytes consumed."""
        try:
            handle = open(self.path, "rb", buffering=0)  # noqa: SIM115 - closed below
        except OSError:
            return 0
        with handle:
            try:
                size = os.fstat(handle.fileno()).st_size
            except OSError:
                return 0
            if size < self.offset:
                self._reset()  # rewritten in place: one file, so start over
            if size == self.offset:
                return 0
            start = self.offset
            for buffer, cut in read_chunks(handle, self.offset, size):
                self._lines(bytes(buffer[:cut]).split(b"\n"))
                self.offset += cut
            return self.offset - start

    def snapshot(self) -> UsageSnapshot:
        """The session's figures so far."""
        return UsageSnapshot(
            by_model=UsageByModel(self._by_model),
            turns=tuple(self._turns),
            failed_turns=self._failed_turns,
            failures=tuple(self._failures),
            malformed_lines=self.malformed_lines,
            first=self._first,
            last=self._last,
            samples=tuple(self._samples),
        )

    def _lines(self, lines: list[bytes]) -> None:
        lines.pop()  # the empty piece after the final newline
        for line in lines:
            relevant = any(kind in line for kind in _KINDS) or (
                _EVENT_MSG in line and any(event in line for event in _EVENTS)
            )
            if not relevant:
                stripped = line.strip()
                if stripped and not (stripped[:1] == b"{" and stripped[-1:] == b"}"):
                    self.malformed_lines += 1
                continue
            record = parse_object(line)
            if record is None:
                if line.strip():
                    self.malformed_lines += 1
                continue
            payload = record.get("payload")
            if not isinstance(payload, dict):
                continue
            self._record(record.get("type"), payload, parse_time(record.get("timestamp")))

    def _seen(self, when: datetime) -> None:
        if self._first is None or when < self._first:
            self._first = when
        if self._last is None or when > self._last:
            self._last = when

    def _record(self, kind: object, payload: dict[str, Any], when: datetime | None) -> None:
        if kind == "session_meta":
            if self.meta is None:
                self.meta = self._meta(payload, when)
            return
        if kind == "turn_context":
            model = payload.get("model")
            if isinstance(model, str) and model:
                self._model = model
            return
        if kind != "event_msg":
            return
        event = payload.get("type")
        if event == "thread_settings_applied":
            settings = payload.get("thread_settings")
            model = settings.get("model") if isinstance(settings, dict) else None
            if isinstance(model, str) and model:
                self._fallback_model = model
        elif when is None:
            return
        elif event == "token_count":
            self._token_count(payload, when)
        elif event == "task_started":
            self._turns.append(when)
            self._turn_open = True
            self._turn_failed = False
            self._seen(when)
        elif event == "task_complete":
            # Codex 0.169 reports a failed turn here, as the ``error`` of its completion.
            if isinstance(payload.get("error"), dict):
                self._error(payload["error"], when)
            self._turn_open = False
        elif event == "error":
            self._error(payload, when)
        elif event == "turn_aborted":
            reason = payload.get("reason")
            if reason in _INTERRUPTING:
                self._fail(Failure(when, FailureKind.INTERRUPTED, f"turn aborted: {reason}"))

    def _meta(self, payload: dict[str, Any], when: datetime | None) -> RolloutMeta:
        session_id = payload.get("id") or payload.get("session_id")
        cwd = payload.get("cwd")
        forked = payload.get("forked_from_id")
        return RolloutMeta(
            path=self.path,
            session_id=session_id if isinstance(session_id, str) else "",
            cwd=cwd if isinstance(cwd, str) else "",
            started=parse_time(payload.get("timestamp")) or when,
            forked_from=forked if isinstance(forked, str) else None,
        )

    def _token_count(self, payload: dict[str, Any], when: datetime) -> None:
        if payload.get("rate_limits") is not None:
            self._rate_limits = payload["rate_limits"]
        info = payload.get("info")
        if not isinstance(info, dict):
            return
        total = _counts(info.get("total_token_usage"))
        if total is None:
            return
        previous = self._previous
        self._previous = total
        if previous == total:
            return  # re-emitted unchanged: nothing new was spent
        if previous is None or any(
            now < before for now, before in zip(total, previous, strict=True)
        ):
            if previous is not None:
                self.new_processes += 1
            grown = total
        else:
            grown = (
                total[0] - previous[0],
                total[1] - previous[1],
                total[2] - previous[2],
                total[3] - previous[3],
            )
        if _counts(info.get("last_token_usage")) not in (None, grown):
            # The running total is Codex's own account of what the session spent; a last
            # usage that disagrees (an event lost in between) is not trusted over it.
            self.disagreements += 1
        usage = _usage(grown)
        model = self._model or self._fallback_model or UNKNOWN_MODEL
        held = self._by_model.get(model)
        self._by_model[model] = held + usage if held is not None else usage
        self._samples.append(UsageSample(when, model, usage))
        self._seen(when)

    def _error(self, payload: dict[str, Any], when: datetime) -> None:
        message = payload.get("message")
        text = message if isinstance(message, str) else ""
        info = payload.get("codex_error_info")
        info_text = str(info) if info is not None else ""
        status = _http_status(info)
        if "usage_limit" in info_text or is_usage_limit(text):
            kind = FailureKind.USAGE_LIMIT
        elif status == 429 or "rate limit" in text.lower():
            kind = FailureKind.RATE_LIMIT
        else:
            kind = FailureKind.API_ERROR
        resets = self._reset_time(text, when) if kind is not FailureKind.API_ERROR else None
        self._fail(Failure(when, kind, text or info_text, status=status, resets_at=resets))

    def _reset_time(self, text: str, when: datetime) -> datetime | None:
        match = _TRY_AGAIN_IN.search(text)
        if match and any(match.group(g) for g in ("d", "h", "m")):
            return when + timedelta(
                days=int(match["d"] or 0), hours=int(match["h"] or 0), minutes=int(match["m"] or 0)
            )
        limits = self._rate_limits
        if isinstance(limits, dict):
            for window in ("primary", "secondary"):
                entry = limits.get(window)
                if not isinstance(entry, dict):
                    continue
                used = entry.get("used_percent")
                resets = entry.get("resets_at")
                if isinstance(used, int | float) and used >= 100 and type(resets) is int:
                    return datetime.fromtimestamp(resets, tz=UTC)
        return stated_reset(text, when)  # "try again at 4:56 PM": the machine's local time

    def _fail(self, failure: Failure) -> None:
        self._failures.append(failure)
        self._seen(failure.time)
        if self._turn_open and not self._turn_failed:
            self._turn_failed = True
            self._failed_turns += 1


def _http_status(info: object) -> int | None:
    if isinstance(info, dict):
        for value in info.values():
            if isinstance(value, dict):
                status = value.get("http_status_code")
                if type(status) is int:
                    return status
    return None


class CodexSessionReader:
    """Incremental reader of one Codex session, whose rollout may not exist yet.

    Matched by session id when known, else by working directory and start time; once found,
    the file is kept.
    """

    def __init__(
        self,
        *,
        session_id: str | None = None,
        cwd: str | Path | None = None,
        started_after: datetime | None = None,
        home: Path | None = None,
    ) -> None:
        self.session_id = session_id
        self.cwd = cwd
        self.started_after = started_after
        self.home = home
        self.reader: CodexRolloutReader | None = None

    def update(self) -> int:
        """Find the rollout if not yet found, then read what was appended; return bytes read."""
        if self.reader is None:
            path = find_rollout(
                session_id=self.session_id,
                cwd=self.cwd,
                started_after=self.started_after,
                home=self.home,
            )
            if path is None:
                return 0
            self.reader = CodexRolloutReader(path)
        return self.reader.update()

    def snapshot(self) -> UsageSnapshot:
        """The session's figures so far (empty before its rollout appears)."""
        return self.reader.snapshot() if self.reader else UsageSnapshot()
