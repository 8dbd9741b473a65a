"""A scripted fake of the Anthropic Messages API, enough for Claude Code to run against it offline.

``POST /v1/messages`` requests that belong to the conversation (recognised by the tools they offer
the model) take the next step of their agent's script in order; side requests (Claude Code's
session-title request and any other tool-less request) get a fixed side reply and never consume a
step. Every usage number in a reply comes from a step or a side reply, so
a test knows the exact totals; :attr:`FakeServer.requests` logs each request with its kind, model,
status, response id and usage.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakeapi.server import FakeServer, Incoming, JsonReply, Note, Reply, SseEvent, SseReply

#: The field names :attr:`LoggedRequest.usage` uses for an Anthropic response.
USAGE_FIELDS = (
    "input_tokens",
    "output_tokens",
    "cache_creation_input_tokens",
    "cache_creation_5m_input_tokens",
    "cache_creation_1h_input_tokens",
    "cache_read_input_tokens",
)

#: Text Claude Code's session-title side request carries in its system prompt.
TITLE_MARKER = "naming a coding session"


@dataclass(frozen=True)
class Usage:
    """Token usage of one Messages API response."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_5m: int = 0
    cache_creation_1h: int = 0
    cache_read: int = 0

    @property
    def cache_creation(self) -> int:
        """All cache-creation tokens (what ``cache_creation_input_tokens`` reports)."""
        return self.cache_creation_5m + self.cache_creation_1h

    def wire(self, output_tokens: int | None = None) -> dict[str, Any]:
        """The ``usage`` object as the API sends it (``output_tokens`` overridable for streams)."""
        return {
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_read_input_tokens": self.cache_read,
            "cache_creation": {
                "ephemeral_5m_input_tokens": self.cache_creation_5m,
                "ephemeral_1h_input_tokens": self.cache_creation_1h,
            },
            "output_tokens": self.output_tokens if output_tokens is None else output_tokens,
            "service_tier": "standard",
        }

    def logged(self) -> dict[str, int]:
        """The usage in the log's field names (:data:`USAGE_FIELDS`)."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation,
            "cache_creation_5m_input_tokens": self.cache_creation_5m,
            "cache_creation_1h_input_tokens": self.cache_creation_1h,
            "cache_read_input_tokens": self.cache_read,
        }


@dataclass(frozen=True)
class Text:
    """Reply with text and ``end_turn``.

    The text is streamed as ``chunks`` deltas with ``chunk_delay`` seconds before each, so a slow
    reply can be interrupted by the client. ``model`` overrides the model named in the reply
    (default: the requested model).
    """

    text: str
    usage: Usage
    model: str | None = None
    chunks: int = 1
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class ToolUse:
    """Reply with a ``tool_use`` block (after an optional text block) and stop for ``tool_use``.

    With ``text`` the response has two content blocks, which Claude Code writes as two transcript
    lines sharing one ``message.id``.
    """

    name: str
    input: Mapping[str, Any]
    usage: Usage
    text: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class ApiError:
    """Fail with an HTTP error in the API's error format, for ``times`` consecutive requests."""

    status: int
    error_type: str
    message: str
    headers: Mapping[str, str] = field(default_factory=dict)
    times: int = 1


Step = Text | ToolUse | ApiError


def overloaded(times: int = 1) -> ApiError:
    """A 529 ``overloaded_error``, as the API answers when it is overloaded."""
    return ApiError(529, "overloaded_error", "Overloaded", times=times)


def rate_limited(times: int = 1) -> ApiError:
    """A plain 429 ``rate_limit_error`` (an API-key rate limit)."""
    return ApiError(
        429,
        "rate_limit_error",
        "Number of request tokens has exceeded your per-minute rate limit",
        headers={"retry-after": "60"},
        times=times,
    )


def usage_limited(reset_epoch: int, times: int = 1) -> ApiError:
    """A 429 with the ``anthropic-ratelimit-unified-*`` headers of a subscription usage limit."""
    return ApiError(
        429,
        "rate_limit_error",
        "This request would exceed your account's rate limit. Please try again later.",
        headers={
            "anthropic-ratelimit-unified-status": "rejected",
            "anthropic-ratelimit-unified-reset": str(reset_epoch),
            "anthropic-ratelimit-unified-representative-claim": "five_hour",
            "anthropic-ratelimit-unified-5h-status": "rejected",
            "anthropic-ratelimit-unified-5h-reset": str(reset_epoch),
            "anthropic-ratelimit-unified-5h-utilization": "1.0",
        },
        times=times,
    )


#: Side replies used when a test names none: a JSON title (the title request asks for JSON).
DEFAULT_SIDE_REPLIES: Mapping[str, Text] = {
    "title": Text('{"title": "Fixture session"}', Usage(input_tokens=310, output_tokens=11)),
    "quota": Text("q", Usage(input_tokens=8, output_tokens=1)),
    "side": Text("ok", Usage(input_tokens=220, output_tokens=3)),
}

#: What a conversation request gets once the script has run out (logged with ``step=None``).
EXHAUSTED = Text("(the fake API's script has run out)", Usage(input_tokens=1, output_tokens=1))


def classify(body: Any) -> str:
    """``"conversation"`` for a request that offers tools, else the kind of side request.

    Side kinds seen from Claude Code 2.1.330: ``title`` (names the session, streamed, JSON
    output) and ``quota`` (a non-streamed ``max_tokens: 1`` request with the message "quota" that
    a subscriber's interactive session sends at start to read the rate-limit headers).
    """
    if not isinstance(body, dict):
        return "side"
    if body.get("tools"):
        return "conversation"
    if TITLE_MARKER in json.dumps(body.get("system", "")):
        return "title"
    if body.get("messages") == [{"role": "user", "content": "quota"}]:
        return "quota"
    return "side"


class Script:
    """Steps taken in order, one per request; an :class:`ApiError` step lasts ``times`` requests."""

    def __init__(self, steps: Sequence[Step]) -> None:
        self.steps = list(steps)
        self._lock = threading.Lock()
        self._next = 0
        self._repeats = 0

    @property
    def used(self) -> int:
        """How many steps have been fully consumed."""
        with self._lock:
            return self._next

    @property
    def done(self) -> bool:
        """Every step has been consumed."""
        return self.used >= len(self.steps)

    def take(self) -> tuple[int | None, Step]:
        """The next step and its index, or ``(None, EXHAUSTED)`` past the end."""
        with self._lock:
            if self._next >= len(self.steps):
                return None, EXHAUSTED
            index = self._next
            step = self.steps[index]
            self._repeats += 1
            if not isinstance(step, ApiError) or self._repeats >= step.times:
                self._next += 1
                self._repeats = 0
            return index, step


class AnthropicFake(FakeServer):
    """The fake Messages API; ``ANTHROPIC_BASE_URL`` is :attr:`url`.

    ``script`` answers the main agent. Claude Code marks a subagent's requests with an
    ``x-claude-code-agent-id`` header and runs subagents concurrently with the main agent, so each
    subagent gets its own script: the first agent id seen takes ``subagents[0]``, the next
    ``subagents[1]`` and so on.
    """

    def __init__(
        self,
        script: Sequence[Step],
        subagents: Sequence[Sequence[Step]] = (),
        side_replies: Mapping[str, Text] | None = None,
        count_tokens: int = 1000,
        tag: str | None = None,
    ) -> None:
        super().__init__(tag)
        self.main = Script(script)
        self.subagents = [Script(steps) for steps in subagents]
        self.side_replies = {**DEFAULT_SIDE_REPLIES, **(side_replies or {})}
        self.count_tokens = count_tokens
        self._agents: dict[str, int] = {}
        self._agents_lock = threading.Lock()

    @property
    def done(self) -> bool:
        """Every script, the main one and each subagent's, has been consumed."""
        return self.main.done and all(lane.done for lane in self.subagents)

    def _script_for(self, agent: str | None) -> Script | None:
        if agent is None:
            return self.main
        with self._agents_lock:
            lane = self._agents.setdefault(agent, len(self._agents))
        return self.subagents[lane] if lane < len(self.subagents) else None

    def respond(self, request: Incoming) -> tuple[Reply, Note]:
        """Route one request: messages, count_tokens, the startup probe, anything else."""
        token = self.next_id()
        request_id = f"req_{token}"
        ids = {"request-id": request_id}
        route = request.route
        if request.method == "HEAD" or route == "/api/hello":
            return JsonReply(200, headers=ids), Note(kind="probe", side=True)
        if route == "/v1/messages/count_tokens":
            model = _model(request.body)
            reply = JsonReply(200, {"input_tokens": self.count_tokens}, ids)
            return reply, Note(kind="count_tokens", side=True, model=model)
        if route != "/v1/messages" or request.method != "POST":
            body = _error_body("not_found_error", f"no route {route}", request_id)
            return JsonReply(404, body, ids), Note(kind="other", side=True)

        body = request.body if isinstance(request.body, dict) else {}
        model = _model(body)
        stream = bool(body.get("stream"))
        agent = request.headers.get("x-claude-code-agent-id") or None
        kind = classify(body)
        side = kind != "conversation"
        step_index: int | None = None
        step: Step
        if side:
            step = self.side_replies.get(kind, self.side_replies["side"])
        else:
            script = self._script_for(agent)
            step_index, step = (None, EXHAUSTED) if script is None else script.take()

        if isinstance(step, ApiError):
            reply = JsonReply(
                step.status,
                _error_body(step.error_type, step.message, request_id),
                {**ids, **step.headers},
            )
            note = Note(
                kind, side, model, stream, step=step_index, agent=agent, error_type=step.error_type
            )
            return reply, note

        message_id = f"msg_{token}"
        reply_model = step.model or model or "claude-fake"
        blocks = _blocks(step, token)
        stop_reason = "tool_use" if isinstance(step, ToolUse) else "end_turn"
        note = Note(
            kind,
            side,
            reply_model,
            stream,
            response_id=message_id,
            usage=step.usage.logged(),
            step=step_index,
            agent=agent,
        )
        message = {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": reply_model,
            "content": blocks,
            "stop_reason": stop_reason,
            "stop_sequence": None,
            "usage": step.usage.wire(),
        }
        if not stream:
            return JsonReply(200, message, ids), note
        events = _stream_events(message, step)
        return SseReply(events, headers=ids), note


def _model(body: Any) -> str | None:
    model = body.get("model") if isinstance(body, dict) else None
    return model if isinstance(model, str) else None


def _error_body(error_type: str, message: str, request_id: str) -> dict[str, Any]:
    return {
        "type": "error",
        "error": {"type": error_type, "message": message},
        "request_id": request_id,
    }


def _blocks(step: Text | ToolUse, token: str) -> list[dict[str, Any]]:
    if isinstance(step, Text):
        return [{"type": "text", "text": step.text}]
    blocks: list[dict[str, Any]] = []
    if step.text is not None:
        blocks.append({"type": "text", "text": step.text})
    blocks.append(
        {
            "type": "tool_use",
            "id": f"toolu_{token}",
            "name": step.name,
            "input": dict(step.input),
        }
    )
    return blocks


def _split(text: str, parts: int) -> list[str]:
    parts = max(1, min(parts, len(text) or 1))
    size = -(-len(text) // parts) if text else 0
    return [text[i : i + size] for i in range(0, len(text), size)] if text else [""]


def _stream_events(message: dict[str, Any], step: Text | ToolUse) -> list[SseEvent]:
    """The SSE sequence of one response: usage in ``message_start``, output in ``message_delta``."""
    usage: Usage = step.usage
    start = {**message, "content": [], "stop_reason": None, "usage": usage.wire(output_tokens=1)}
    events = [
        SseEvent("message_start", {"type": "message_start", "message": start}),
        SseEvent("ping", {"type": "ping"}),
    ]
    delay = step.chunk_delay if isinstance(step, Text) else 0.0
    chunks = step.chunks if isinstance(step, Text) else 1
    for index, block in enumerate(message["content"]):
        if block["type"] == "text":
            opening: dict[str, Any] = {"type": "text", "text": ""}
            deltas = [
                {"type": "text_delta", "text": piece} for piece in _split(block["text"], chunks)
            ]
        else:
            opening = {**block, "input": {}}
            deltas = [{"type": "input_json_delta", "partial_json": json.dumps(block["input"])}]
        events.append(
            SseEvent(
                "content_block_start",
                {"type": "content_block_start", "index": index, "content_block": opening},
            )
        )
        events.extend(
            SseEvent(
                "content_block_delta",
                {"type": "content_block_delta", "index": index, "delta": delta},
                delay=delay,
            )
            for delta in deltas
        )
        events.append(
            SseEvent("content_block_stop", {"type": "content_block_stop", "index": index})
        )
    events.append(
        SseEvent(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": usage.output_tokens},
            },
        )
    )
    events.append(SseEvent("message_stop", {"type": "message_stop"}))
    return events
