"""The real, pinned Claude Code and Codex run offline against the fake APIs and record its usage.

These run the same scenarios as ``python -m tests.realcli.make_fixtures``, into a temporary
directory instead of ``tests/fixtures/real``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.npm_tools import need
from tests.realcli.make_fixtures import records, run_scenario

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def test_claude_print_mode_writes_the_scripted_usage(tmp_path: Path) -> None:
    need("claude")
    outcome, dest = run_scenario("claude-code/multi-turn", tmp_path)
    result = json.loads((dest / "expected.json").read_text())
    (session,) = outcome.session_ids
    (path,) = dest.glob(f"projects/*/{session}.jsonl")
    assert path.parent.name == "-FIXTURE-project"
    assert "/tmp/" not in path.read_text()
    usage_by_id: dict[str, dict[str, Any]] = {}
    lines_per_id: dict[str, int] = {}
    for record in records(path):
        message = record.get("message")
        if record.get("type") == "assistant" and isinstance(message, dict):
            usage_by_id[message["id"]] = message["usage"]
            lines_per_id[message["id"]] = lines_per_id.get(message["id"], 0) + 1
    assert list(usage_by_id) == result["conversation_response_ids"]
    assert max(lines_per_id.values()) >= 2, "text + tool_use should share one message.id"
    logged = {e.response_id: e.usage for e in outcome.requests if e.usage is not None}
    for message_id, usage in usage_by_id.items():
        scripted = logged[message_id]
        assert scripted is not None
        assert usage["input_tokens"] == scripted["input_tokens"]
        assert usage["output_tokens"] == scripted["output_tokens"]
        assert usage["cache_read_input_tokens"] == scripted["cache_read_input_tokens"]
        assert usage["cache_creation"] == {
            "ephemeral_5m_input_tokens": scripted["cache_creation_5m_input_tokens"],
            "ephemeral_1h_input_tokens": scripted["cache_creation_1h_input_tokens"],
        }
    (totals,) = result["conversation_models"].values()
    assert totals["input_tokens"] == sum(u["input_tokens"] for u in usage_by_id.values())


def test_codex_exec_writes_the_scripted_usage(tmp_path: Path) -> None:
    need("codex")
    outcome, dest = run_scenario("codex/multi-turn", tmp_path)
    result = json.loads((dest / "expected.json").read_text())
    (rollout,) = dest.glob("sessions/*/*/*/rollout-*.jsonl")
    entries = records(rollout)
    assert entries[0]["type"] == "session_meta"
    assert entries[0]["payload"]["id"] == outcome.session_ids[0]
    assert entries[0]["payload"]["cwd"] == "/FIXTURE/project"
    usage_records = [e["payload"] for e in entries if e["type"] == "token_usage_record"]
    assert [r["response_id"] for r in usage_records] == result["conversation_response_ids"]
    counts = [
        e["payload"]["info"]["total_token_usage"]
        for e in entries
        if e["type"] == "event_msg" and e["payload"]["type"] == "token_count"
    ]
    (totals,) = result["models"].values()
    for field in ("input_tokens", "cached_input_tokens", "output_tokens", "total_tokens"):
        assert counts[-1][field] == totals[field]
    assert counts[-1] == counts[-2], "the failed last turn re-emits unchanged totals"
