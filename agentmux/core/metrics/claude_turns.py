"""Turns and failures of a Claude Code session, from its main conversation's records.

A turn is a user prompt (not a tool result, not meta, not a notice Claude Code sends itself) that
the agent answered or failed on: local commands such as ``/model`` never reach the model and are
not turns. Failures are API errors (synthetic ``isApiErrorMessage`` records, which cost nothing),
usage and rate limits, and user interruptions; a turn with any failure is a failed turn. Only the
main conversation's records (not sidechains) make turns and failures, so a subagent's error,
which its parent also meets, is not counted twice.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from agentmux.core.metrics.failure_text import is_usage_limit, stated_reset
from agentmux.core.metrics.jsonl_reading import parse_time
from agentmux.core.metrics.usage import Failure, FailureKind

INTERRUPTED_MARK = "[Request interrupted by user"
_API_STATUS = re.compile(r"API Error:?\s*(\d{3})\b")


class TurnCursor(Protocol):
    """Where one transcript file is in its conversation: a prompt not yet answered, and the turn
    later failures belong to."""

    path: Path
    pending: tuple[str, datetime] | None
    turn: str | None


class TurnLog:
    """A session's turns and failures, and the span of time its records cover (``first`` and
    ``last``; the reader widens it for responses too)."""

    def __init__(self) -> None:
        self.turns: dict[str, datetime] = {}
        self.failures: dict[str, Failure] = {}
        self.failed_turns: set[str] = set()
        self.interrupted_turns: set[str] = set()
        self.first: datetime | None = None
        self.last: datetime | None = None

    def seen(self, when: datetime) -> None:
        """Widen the span to include ``when``."""
        if self.first is None or when < self.first:
            self.first = when
        if self.last is None or when > self.last:
            self.last = when

    def answered(self, cursor: TurnCursor) -> None:
        """The file's pending prompt got an answer (or a failure): it is a turn."""
        if cursor.pending is None:
            return
        turn_id, when = cursor.pending
        cursor.pending = None
        cursor.turn = turn_id
        if turn_id not in self.turns:
            self.turns[turn_id] = when
            self.seen(when)

    def fail(self, cursor: TurnCursor, key: str, failure: Failure) -> None:
        """Record one failure (once per ``key``) against the file's current turn."""
        self.answered(cursor)
        if key in self.failures:
            return
        if failure.kind is FailureKind.INTERRUPTED and cursor.turn is not None:
            if cursor.turn in self.interrupted_turns:
                return  # a tool result and a text block can both report one interruption
            self.interrupted_turns.add(cursor.turn)
        self.failures[key] = failure
        self.seen(failure.time)
        if cursor.turn is not None:
            self.failed_turns.add(cursor.turn)

    def synthetic(
        self,
        cursor: TurnCursor,
        record: dict[str, Any],
        message: dict[str, Any],
        when: datetime,
        number: int,
    ) -> None:
        """A synthetic assistant record (line ``number``): an API error or a limit, if it is one."""
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
        key = record.get("uuid") or message.get("id") or f"{cursor.path}:{number}"
        self.fail(
            cursor,
            str(key),
            Failure(
                time=when,
                kind=kind,
                reason=text or str(error or ""),
                status=status,
                resets_at=resets,
            ),
        )

    def user(self, cursor: TurnCursor, record: dict[str, Any], number: int) -> None:
        """A ``user`` record (line ``number``): a prompt, an interruption, or neither."""
        if record.get("isSidechain") is True or record.get("isMeta") is True:
            return
        message = record.get("message")
        if not isinstance(message, dict):
            return
        when = parse_time(record.get("timestamp"))
        if when is None:
            return
        content = message.get("content")
        key = str(record.get("uuid") or f"{cursor.path}:{number}")
        for text in _texts(content):
            if text.lstrip().startswith(INTERRUPTED_MARK):
                reason = text.strip()
                self.fail(cursor, key, Failure(when, FailureKind.INTERRUPTED, reason))
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
            cursor.pending = (key, when)


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
