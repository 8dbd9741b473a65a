"""A scripted fake of the OpenAI Responses API, enough for Codex to run against it offline.

Each ``POST /v1/responses`` takes the next step of the script and is answered with the SSE stream
Codex reads (``response.created``, ``response.output_item.added``, ``response.output_text.delta``,
``response.output_item.done``, ``response.completed`` with ``usage``), with a function call, with
an HTTP error in OpenAI's error format, or with a stream that ends in ``response.failed``. Every
usage number comes from the script; :attr:`FakeServer.requests` logs each request.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.fakeapi.server import FakeServer, Incoming, JsonReply, Note, Reply, SseEvent, SseReply

#: The field names :attr:`LoggedRequest.usage` uses for a Responses API response (Codex's names).
USAGE_FIELDS = (
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_output_tokens",
    "total_tokens",
)


@dataclass(frozen=True)
class Usage:
    """Token usage of one response: ``input_tokens`` includes ``cached``, ``output_tokens``
    includes ``reasoning``."""

    input_tokens: int = 0
    cached: int = 0
    output_tokens: int = 0
    reasoning: int = 0

    @property
    def total_tokens(self) -> int:
        """``input_tokens + output_tokens``, as the API reports it."""
        return self.input_tokens + self.output_tokens

    def wire(self) -> dict[str, Any]:
        """The ``usage`` object of ``response.completed``."""
        return {
            "input_tokens": self.input_tokens,
            "input_tokens_details": {"cached_tokens": self.cached},
            "output_tokens": self.output_tokens,
            "output_tokens_details": {"reasoning_tokens": self.reasoning},
            "total_tokens": self.total_tokens,
        }

    def logged(self) -> dict[str, int]:
        """The usage in the log's field names (:data:`USAGE_FIELDS`)."""
        return {
            "input_tokens": self.input_tokens,
            "cached_input_tokens": self.cached,
            "output_tokens": self.output_tokens,
            "reasoning_output_tokens": self.reasoning,
            "total_tokens": self.total_tokens,
        }


@dataclass(frozen=True)
class Message:
    """Reply with an assistant message, after a reasoning item when ``reasoning`` is given."""

    text: str
    usage: Usage
    reasoning: str | None = None
    model: str | None = None
    chunks: int = 1
    chunk_delay: float = 0.0


@dataclass(frozen=True)
class FunctionCall:
    """Reply with a function call (e.g. Codex's ``shell``/``exec_command`` tool)."""

    name: str
    arguments: Mapping[str, Any]
    usage: Usage
    reasoning: str | None = None
    model: str | None = None


@dataclass(frozen=True)
class ApiError:
    """Fail with an HTTP error in OpenAI's error format, for ``times`` consecutive requests."""

    status: int
    message: str
    error_type: str
    code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)
    times: int = 1


@dataclass(frozen=True)
class StreamFailure:
    """Answer 200 and end the stream with ``response.failed`` carrying ``code`` and ``message``."""

    code: str
    message: str
    times: int = 1


Step = Message | FunctionCall | ApiError | StreamFailure


def usage_limit(reset_epoch: int, times: int = 1) -> ApiError:
    """A 429 ``usage_limit_reached``, as the ChatGPT-backed service reports a plan's usage limit."""
    return ApiError(
        429,
        "The usage limit has been reached",
        "usage_limit_reached",
        extra={"plan_type": "plus", "resets_at": reset_epoch},
        times=times,
    )


def rate_limited(times: int = 1) -> ApiError:
    """A 429 ``rate_limit_exceeded`` of the public API."""
    return ApiError(
        429,
        "Rate limit reached for requests. Please try again in 20s.",
        "requests",
        code="rate_limit_exceeded",
        times=times,
    )


def server_error(times: int = 1) -> ApiError:
    """A 500 ``server_error``."""
    return ApiError(
        500,
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        times=times,
    )


#: How Codex 0.169 starts its task-title request, and the fake's answer to it.
TITLE_PROMPT = "Generate a concise, single-line task title"
TITLE = Message("A task title", Usage(input_tokens=300, output_tokens=6))
#: What a request gets once the script has run out (logged with ``step=None``).
EXHAUSTED = Message("(the fake API's script has run out)", Usage(input_tokens=1, output_tokens=1))


def rate_limit_headers(primary_percent: float, reset_epoch: int) -> dict[str, str]:
    """Codex's rate-limit headers (a 5-hour primary and a weekly secondary window).

    Codex copies them into the ``rate_limits`` of its ``token_count`` records.
    """
    return {
        "x-codex-primary-used-percent": f"{primary_percent:g}",
        "x-codex-primary-window-minutes": "300",
        "x-codex-primary-reset-at": str(reset_epoch),
        "x-codex-secondary-used-percent": "12",
        "x-codex-secondary-window-minutes": "10080",
        "x-codex-secondary-reset-at": str(reset_epoch + 6 * 86400),
    }


class ResponsesFake(FakeServer):
    """The fake Responses API; a Codex provider's ``base_url`` is :attr:`url` + ``/v1``.

    ``headers`` are added to every reply (e.g. :func:`rate_limit_headers`).
    """

    def __init__(
        self,
        script: Sequence[Step],
        headers: Mapping[str, str] | None = None,
        tag: str | None = None,
    ) -> None:
        super().__init__(tag)
        self.steps = list(script)
        self.headers = dict(headers or {})
        self._lock_steps = threading.Lock()
        self._next = 0
        self._repeats = 0

    @property
    def done(self) -> bool:
        """Every step has been consumed."""
        with self._lock_steps:
            return self._next >= len(self.steps)

    def _take(self) -> tuple[int | None, Step]:
        with self._lock_steps:
            if self._next >= len(self.steps):
                return None, EXHAUSTED
            index = self._next
            step = self.steps[index]
            self._repeats += 1
            times = step.times if isinstance(step, ApiError | StreamFailure) else 1
            if self._repeats >= times:
                self._next += 1
                self._repeats = 0
            return index, step

    def respond(self, request: Incoming) -> tuple[Reply, Note]:
        """Route one request: ``/v1/responses``, ``/v1/models``, anything else."""
        token = self.next_id()
        ids = {"x-request-id": f"req_{token}", **self.headers}
        route = request.route
        if request.method == "GET" and route == "/v1/models":
            return JsonReply(200, {"object": "list", "data": []}, ids), Note("models", side=True)
        if request.method != "POST" or route != "/v1/responses":
            body = {"error": {"message": f"no route {route}", "type": "invalid_request_error"}}
            return JsonReply(404, body, ids), Note("other", side=True)

        body = request.body if isinstance(request.body, dict) else {}
        requested = body.get("model")
        model = requested if isinstance(requested, str) else None
        stream = bool(body.get("stream"))
        side = _is_title_request(body)
        index, step = (None, TITLE) if side else self._take()
        if isinstance(step, ApiError):
            error = {
                "message": step.message,
                "type": step.error_type,
                "param": None,
                "code": step.code,
                **step.extra,
            }
            note = Note(
                "conversation",
                model=model,
                stream=stream,
                step=index,
                error_type=step.code or step.error_type,
            )
            return JsonReply(step.status, {"error": error}, {**ids, **step.headers}), note

        response_id = f"resp_{token}"
        reply_model = (None if isinstance(step, StreamFailure) else step.model) or model or "gpt-5"
        created = {
            "id": response_id,
            "object": "response",
            "created_at": int(time.time()),
            "status": "in_progress",
            "model": reply_model,
            "output": [],
        }
        events = [
            SseEvent("response.created", {"type": "response.created", "response": created}),
            SseEvent("response.in_progress", {"type": "response.in_progress", "response": created}),
        ]
        if isinstance(step, StreamFailure):
            failed = {
                **created,
                "status": "failed",
                "error": {"code": step.code, "message": step.message},
            }
            events.append(
                SseEvent("response.failed", {"type": "response.failed", "response": failed})
            )
            note = Note(
                "conversation",
                model=reply_model,
                stream=stream,
                response_id=response_id,
                step=index,
                error_type=step.code,
            )
            return SseReply(events, headers=ids), note

        items = _output_items(step, token)
        delay = step.chunk_delay if isinstance(step, Message) else 0.0
        chunks = step.chunks if isinstance(step, Message) else 1
        for output_index, item in enumerate(items):
            events.extend(_item_events(item, output_index, chunks, delay))
        completed = {
            **created,
            "status": "completed",
            "output": items,
            "usage": step.usage.wire(),
        }
        events.append(
            SseEvent("response.completed", {"type": "response.completed", "response": completed})
        )
        note = Note(
            "title" if side else "conversation",
            side=side,
            model=reply_model,
            stream=stream,
            response_id=response_id,
            usage=step.usage.logged(),
            step=index,
        )
        return SseReply(events, headers=ids), note


def _is_title_request(body: Mapping[str, Any]) -> bool:
    """Codex asks, beside each first turn, for a task title: answered apart from the script, so
    the script's steps go to the conversation in order whichever request comes first."""
    items = body.get("input")
    if not isinstance(items, list) or not items or not isinstance(items[-1], dict):
        return False
    content = items[-1].get("content")
    if not isinstance(content, list) or not content or not isinstance(content[0], dict):
        return False
    text = content[0].get("text")
    return isinstance(text, str) and text.startswith(TITLE_PROMPT)


def _output_items(step: Message | FunctionCall, token: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    if step.reasoning is not None:
        items.append(
            {
                "type": "reasoning",
                "id": f"rs_{token}",
                "summary": [{"type": "summary_text", "text": step.reasoning}],
                "content": [],
                "encrypted_content": None,
            }
        )
    if isinstance(step, Message):
        items.append(
            {
                "type": "message",
                "id": f"msg_{token}",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": step.text, "annotations": []}],
            }
        )
    else:
        items.append(
            {
                "type": "function_call",
                "id": f"fc_{token}",
                "status": "completed",
                "call_id": f"call_{token}",
                "name": step.name,
                "arguments": json.dumps(dict(step.arguments)),
            }
        )
    return items


def _split(text: str, parts: int) -> list[str]:
    if not text:
        return [""]
    size = -(-len(text) // max(1, min(parts, len(text))))
    return [text[i : i + size] for i in range(0, len(text), size)]


def _item_events(
    item: dict[str, Any], output_index: int, chunks: int, delay: float
) -> list[SseEvent]:
    """The events that stream one output item, from ``output_item.added`` to ``.done``."""
    kind = item["type"]
    if kind == "message":
        opening: dict[str, Any] = {**item, "status": "in_progress", "content": []}
    elif kind == "function_call":
        opening = {**item, "status": "in_progress", "arguments": ""}
    else:
        opening = {**item, "summary": []}
    events = [
        SseEvent(
            "response.output_item.added",
            {"type": "response.output_item.added", "output_index": output_index, "item": opening},
        )
    ]
    where = {"item_id": item["id"], "output_index": output_index}
    if kind == "message":
        text = item["content"][0]["text"]
        part = {"type": "output_text", "text": "", "annotations": []}
        events.append(
            SseEvent(
                "response.content_part.added",
                {"type": "response.content_part.added", **where, "content_index": 0, "part": part},
            )
        )
        events.extend(
            SseEvent(
                "response.output_text.delta",
                {"type": "response.output_text.delta", **where, "content_index": 0, "delta": piece},
                delay=delay,
            )
            for piece in _split(text, chunks)
        )
        events.append(
            SseEvent(
                "response.output_text.done",
                {"type": "response.output_text.done", **where, "content_index": 0, "text": text},
            )
        )
        events.append(
            SseEvent(
                "response.content_part.done",
                {
                    "type": "response.content_part.done",
                    **where,
                    "content_index": 0,
                    "part": item["content"][0],
                },
            )
        )
    elif kind == "function_call":
        events.append(
            SseEvent(
                "response.function_call_arguments.delta",
                {
                    "type": "response.function_call_arguments.delta",
                    **where,
                    "delta": item["arguments"],
                },
            )
        )
        events.append(
            SseEvent(
                "response.function_call_arguments.done",
                {
                    "type": "response.function_call_arguments.done",
                    **where,
                    "arguments": item["arguments"],
                },
            )
        )
    else:
        for summary_index, summary in enumerate(item["summary"]):
            events.append(
                SseEvent(
                    "response.reasoning_summary_text.delta",
                    {
                        "type": "response.reasoning_summary_text.delta",
                        **where,
                        "summary_index": summary_index,
                        "delta": summary["text"],
                    },
                )
            )
    events.append(
        SseEvent(
            "response.output_item.done",
            {"type": "response.output_item.done", "output_index": output_index, "item": item},
        )
    )
    return events
