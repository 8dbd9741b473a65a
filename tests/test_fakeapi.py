"""The fake Anthropic and OpenAI Responses servers speak their wire protocols and log requests."""

from __future__ import annotations

import http.client
import json
import socket
import time
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import wait_for
from tests.fakeapi import anthropic as ant
from tests.fakeapi import openai_responses as oai
from tests.fakeapi.server import FakeServer, LoggedRequest
from tests.realcli.make_fixtures import Outcome, expected


def _connect(server: FakeServer) -> http.client.HTTPConnection:
    parts = urlsplit(server.url)
    assert parts.hostname == "127.0.0.1"
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)


def _post(
    server: FakeServer, path: str, body: dict[str, Any], headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    connection = _connect(server)
    try:
        connection.request(
            "POST",
            path,
            json.dumps(body),
            {"content-type": "application/json", **(headers or {})},
        )
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _sse(raw: bytes) -> list[tuple[str | None, dict[str, Any]]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if not block.strip():
            continue
        name = None
        data = []
        for line in block.splitlines():
            if line.startswith("event: "):
                name = line[len("event: ") :]
            elif line.startswith("data: "):
                data.append(line[len("data: ") :])
        events.append((name, json.loads("\n".join(data))))
    return events


def _messages_body(stream: bool = True, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-test-1",
        "max_tokens": 100,
        "stream": stream,
        "messages": [{"role": "user", "content": "hi"}],
        "tools": [{"name": "Write", "input_schema": {"type": "object"}}],
        **extra,
    }


def test_anthropic_streams_text_with_scripted_usage() -> None:
    usage = ant.Usage(1200, 34, cache_creation_5m=500, cache_creation_1h=70, cache_read=900)
    with ant.AnthropicFake([ant.Text("Hello there", usage, chunks=3)]) as fake:
        status, headers, raw = _post(fake, "/v1/messages?beta=true", _messages_body())
        log = fake.requests
    assert status == 200
    assert headers["content-type"] == "text/event-stream"
    assert headers["request-id"].startswith("req_")
    events = _sse(raw)
    names = [name for name, _ in events]
    assert names[0] == "message_start"
    assert names[-2:] == ["message_delta", "message_stop"]
    assert names.count("content_block_delta") == 3
    assert all(name == data["type"] for name, data in events)
    start = events[0][1]["message"]
    assert start["usage"]["input_tokens"] == 1200
    assert start["usage"]["cache_creation_input_tokens"] == 570
    assert start["usage"]["cache_creation"] == {
        "ephemeral_5m_input_tokens": 500,
        "ephemeral_1h_input_tokens": 70,
    }
    assert start["usage"]["cache_read_input_tokens"] == 900
    assert events[-2][1]["usage"] == {"output_tokens": 34}
    assert events[-2][1]["delta"]["stop_reason"] == "end_turn"
    text = "".join(d["delta"]["text"] for n, d in events if n == "content_block_delta")
    assert text == "Hello there"
    (entry,) = log
    assert entry.kind == "conversation"
    assert not entry.side
    assert entry.succeeded
    assert entry.response_id == start["id"]
    assert entry.model == "claude-test-1"
    assert entry.usage == usage.logged()


def test_anthropic_tool_use_follows_text_in_one_message() -> None:
    step = ant.ToolUse("Write", {"file_path": "/x", "content": "y"}, ant.Usage(10, 5), text="Ok.")
    with ant.AnthropicFake([step]) as fake:
        _, _, raw = _post(fake, "/v1/messages", _messages_body())
    events = _sse(raw)
    starts = [d["content_block"] for n, d in events if n == "content_block_start"]
    assert [block["type"] for block in starts] == ["text", "tool_use"]
    assert starts[1]["name"] == "Write"
    partial = [
        d["delta"]["partial_json"]
        for n, d in events
        if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta"
    ]
    assert json.loads("".join(partial)) == {"file_path": "/x", "content": "y"}
    assert events[-2][1]["delta"]["stop_reason"] == "tool_use"


def test_anthropic_side_requests_do_not_consume_the_script() -> None:
    title_body = {
        "model": "claude-test-1",
        "max_tokens": 100,
        "stream": False,
        "system": [{"type": "text", "text": "You are naming a coding session so ..."}],
        "messages": [{"role": "user", "content": "<session>x</session>"}],
        "tools": [],
    }
    quota_body = {"model": "m", "max_tokens": 1, "messages": [{"role": "user", "content": "quota"}]}
    with ant.AnthropicFake([ant.Text("main", ant.Usage(7, 1))]) as fake:
        status, _, raw = _post(fake, "/v1/messages", title_body)
        _post(fake, "/v1/messages", quota_body)
        _post(fake, "/v1/messages", _messages_body())
        assert fake.done
        log = fake.requests
    assert status == 200
    message = json.loads(raw)
    assert json.loads(message["content"][0]["text"]) == {"title": "Fixture session"}
    assert message["usage"]["input_tokens"] == ant.DEFAULT_SIDE_REPLIES["title"].usage.input_tokens
    assert [(e.kind, e.side, e.step) for e in log] == [
        ("title", True, None),
        ("quota", True, None),
        ("conversation", False, 0),
    ]


def test_anthropic_errors_repeat_then_the_script_goes_on() -> None:
    script: list[ant.Step] = [ant.overloaded(times=2), ant.Text("ok", ant.Usage(1, 1))]
    with ant.AnthropicFake(script) as fake:
        answers = [_post(fake, "/v1/messages", _messages_body()) for _ in range(3)]
        # The client may read the last reply before its handler marks it complete.
        wait_for(lambda: fake.requests[-1].completed, timeout=5, what="the last reply written")
        log = fake.requests
    (s1, h1, b1), (s2, _, _), (s3, _, _) = answers
    assert (s1, s2, s3) == (529, 529, 200)
    assert json.loads(b1) == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": h1["request-id"],
    }
    assert [e.error_type for e in log] == ["overloaded_error", "overloaded_error", None]
    assert [e.succeeded for e in log] == [False, False, True]


def test_anthropic_usage_limit_carries_unified_headers() -> None:
    with ant.AnthropicFake([ant.usage_limited(1_900_000_000)]) as fake:
        status, headers, _ = _post(fake, "/v1/messages", _messages_body())
    assert status == 429
    assert headers["anthropic-ratelimit-unified-status"] == "rejected"
    assert headers["anthropic-ratelimit-unified-reset"] == "1900000000"


def test_anthropic_subagents_get_their_own_scripts() -> None:
    main = [ant.Text("main 1", ant.Usage(1, 1)), ant.Text("main 2", ant.Usage(2, 2))]
    sub = [ant.Text("sub 1", ant.Usage(3, 3), model="claude-small")]
    with ant.AnthropicFake(main, subagents=[sub]) as fake:
        _post(fake, "/v1/messages", _messages_body(stream=False))
        _, _, raw = _post(
            fake, "/v1/messages", _messages_body(stream=False), {"x-claude-code-agent-id": "a1"}
        )
        _post(fake, "/v1/messages", _messages_body(stream=False))
        assert fake.done
        log = fake.requests
    assert json.loads(raw)["content"][0]["text"] == "sub 1"
    assert [(e.agent, e.model, e.step) for e in log] == [
        (None, "claude-test-1", 0),
        ("a1", "claude-small", 0),
        (None, "claude-test-1", 1),
    ]


def test_anthropic_answers_startup_probes_and_count_tokens() -> None:
    with ant.AnthropicFake([], count_tokens=4321) as fake:
        connection = _connect(fake)
        connection.request("HEAD", "/api/hello")
        probe = connection.getresponse()
        probe.read()
        connection.close()
        status, _, raw = _post(fake, "/v1/messages/count_tokens", _messages_body())
        missing, _, _ = _post(fake, "/v1/other", {})
        log = fake.requests
    assert probe.status == 200
    assert status == 200
    assert json.loads(raw) == {"input_tokens": 4321}
    assert missing == 404
    assert [e.kind for e in log] == ["probe", "count_tokens", "other"]
    assert all(e.side and e.usage is None for e in log)


def test_a_stream_the_client_abandons_is_logged_as_not_completed() -> None:
    # Whole, this stream takes 0.5 s; a second after the client left it still is not complete.
    slow = ant.Text("x" * 10, ant.Usage(100, 50), chunks=10, chunk_delay=0.05)
    with ant.AnthropicFake([slow]) as fake:
        parts = urlsplit(fake.url)
        with socket.create_connection((parts.hostname, parts.port), timeout=5) as sock:
            body = json.dumps(_messages_body()).encode()
            sock.sendall(
                b"POST /v1/messages HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
                b"content-length: %d\r\n\r\n%s" % (len(body), body)
            )
            received = b""
            while b"message_start" not in received:
                chunk = sock.recv(4096)
                assert chunk, "the server closed before message_start"
                received += chunk
        time.sleep(1.0)
        (entry,) = fake.requests
    assert not entry.completed
    assert not entry.succeeded


def test_the_server_binds_loopback_and_stops() -> None:
    fake = ant.AnthropicFake([])
    with fake:
        port = urlsplit(fake.url).port
        assert fake.url.startswith("http://127.0.0.1:")
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        pass


def test_responses_stream_message_with_reasoning_and_usage() -> None:
    usage = oai.Usage(input_tokens=900, cached=600, output_tokens=80, reasoning=50)
    step = oai.Message("Hi!", usage, reasoning="think")
    with oai.ResponsesFake([step], headers={"x-codex-primary-used-percent": "5"}) as fake:
        status, headers, raw = _post(
            fake, "/v1/responses", {"model": "gpt-test", "stream": True, "input": []}
        )
        log = fake.requests
    assert status == 200
    assert headers["x-codex-primary-used-percent"] == "5"
    events = _sse(raw)
    names = [name for name, _ in events]
    assert names[0] == "response.created"
    assert names[-1] == "response.completed"
    assert "response.output_text.delta" in names
    assert names.count("response.output_item.added") == 2
    done_items = [d["item"] for n, d in events if n == "response.output_item.done"]
    assert [item["type"] for item in done_items] == ["reasoning", "message"]
    assert done_items[1]["content"][0]["text"] == "Hi!"
    completed = events[-1][1]["response"]
    assert completed["model"] == "gpt-test"
    assert completed["usage"] == {
        "input_tokens": 900,
        "input_tokens_details": {"cached_tokens": 600},
        "output_tokens": 80,
        "output_tokens_details": {"reasoning_tokens": 50},
        "total_tokens": 980,
    }
    (entry,) = log
    assert entry.succeeded
    assert entry.usage == usage.logged()
    assert entry.response_id == completed["id"]


def test_responses_function_call_and_errors() -> None:
    script: list[oai.Step] = [
        oai.FunctionCall("exec_command", {"cmd": "ls"}, oai.Usage(10, 0, 5, 0)),
        oai.usage_limit(1_900_000_000),
        oai.StreamFailure("server_is_overloaded", "busy"),
    ]
    body = {"model": "gpt-test", "stream": True, "input": []}
    with oai.ResponsesFake(script) as fake:
        _, _, call = _post(fake, "/v1/responses", body)
        status, _, limit = _post(fake, "/v1/responses", body)
        failed_status, _, failed = _post(fake, "/v1/responses", body)
        log = fake.requests
    item = next(d["item"] for n, d in _sse(call) if n == "response.output_item.done")
    assert item["type"] == "function_call"
    assert json.loads(item["arguments"]) == {"cmd": "ls"}
    assert status == 429
    error = json.loads(limit)["error"]
    assert error["type"] == "usage_limit_reached"
    assert error["resets_at"] == 1_900_000_000
    assert failed_status == 200
    last = _sse(failed)[-1]
    assert last[0] == "response.failed"
    assert last[1]["response"]["error"]["code"] == "server_is_overloaded"
    assert [e.succeeded for e in log] == [True, False, False]
    assert [e.error_type for e in log] == [None, "usage_limit_reached", "server_is_overloaded"]


def test_expected_totals_come_from_the_log() -> None:
    def entry(index: int, **fields: Any) -> LoggedRequest:
        base: dict[str, Any] = {
            "index": index,
            "time": 0.0,
            "method": "POST",
            "path": "/v1/messages",
            "kind": "conversation",
            "side": False,
            "model": "m1",
            "status": 200,
            "stream": True,
            "completed": True,
        }
        return LoggedRequest(**{**base, **fields})

    usage = ant.Usage(10, 2, cache_creation_5m=3, cache_creation_1h=4, cache_read=5).logged()
    log = [
        entry(0, response_id="a", usage=usage),
        entry(1, response_id="b", usage=usage, agent="sub", model="m2"),
        entry(2, response_id="c", usage=usage, kind="title", side=True),
        entry(3, status=529, error_type="overloaded_error"),
        entry(4, response_id="d", usage=usage, completed=False),
    ]
    outcome = Outcome("claude-code", "t", "print", "", 1, ant.USAGE_FIELDS, log, {}, "http://x:1")
    result = expected(outcome)
    assert result["models"]["m1"]["responses"] == 2
    assert result["models"]["m1"]["input_tokens"] == 20
    assert result["conversation_models"]["m1"]["cache_creation_input_tokens"] == 7
    assert result["side_models"] == {"m1": {"responses": 1, **usage}}
    assert set(result["agents"]) == {"main", "sub"}
    assert result["conversation_response_ids"] == ["a", "b"]
    assert result["errors"]["by_status"] == {"529": 1}
    assert [a["response_id"] for a in result["aborted"]] == ["d"]
