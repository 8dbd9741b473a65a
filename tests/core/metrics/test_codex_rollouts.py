"""The Codex rollout reader: cumulative totals, new processes, turns, failures, finding files."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agentmux.core.metrics.codex_rollouts import (
    CodexRolloutReader,
    CodexSessionReader,
    codex_home,
    find_rollout,
    read_meta,
)
from agentmux.core.metrics.usage import FailureKind, TokenUsage, UsageSnapshot

FIXTURE = Path(__file__).parents[2] / "fixtures" / "codex-0.169.0-exec-rollout.jsonl"
SID = "0199aaaa-0000-7000-8000-000000000001"
T0 = datetime(2026, 11, 21, 9, 0, tzinfo=UTC)


def stamp(seconds: float) -> str:
    """A Codex-style timestamp ``seconds`` after T0."""
    when = T0 + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def tokens(inp: int, cached: int, out: int, reasoning: int = 0, write: int = 0) -> dict[str, int]:
    """A Codex usage object (``input_tokens`` includes cached and cache-written input)."""
    return {
        "input_tokens": inp,
        "cached_input_tokens": cached,
        "cache_write_input_tokens": write,
        "output_tokens": out,
        "reasoning_output_tokens": reasoning,
        "total_tokens": inp + out,
    }


def meta(at: float = 0, sid: str = SID, cwd: str = "/work/tree") -> dict[str, Any]:
    """The ``session_meta`` record."""
    return {
        "timestamp": stamp(at),
        "type": "session_meta",
        "payload": {"id": sid, "timestamp": stamp(at), "cwd": cwd, "cli_version": "0.169.0"},
    }


def context(model: str, at: float = 0.5) -> dict[str, Any]:
    """A ``turn_context`` record naming the model."""
    return {"timestamp": stamp(at), "type": "turn_context", "payload": {"model": model}}


def event(kind: str, at: float, **payload: Any) -> dict[str, Any]:
    """An ``event_msg`` record."""
    return {"timestamp": stamp(at), "type": "event_msg", "payload": {"type": kind, **payload}}


def count(total: dict[str, int] | None, last: dict[str, int] | None, at: float) -> dict[str, Any]:
    """A ``token_count`` event."""
    info = None if total is None else {"total_token_usage": total, "last_token_usage": last}
    return event("token_count", at, info=info, rate_limits=None)


def lines(records: Iterable[dict[str, Any]]) -> bytes:
    """Records as Codex writes them: compact JSON, one a line."""
    return b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in records)


def rollout_path(
    home: Path, sid: str = SID, day: str = "2026/11/21", clock: str = "09-00-00"
) -> Path:
    """Where Codex puts a session's rollout."""
    folder = home / "sessions" / day
    folder.mkdir(parents=True, exist_ok=True)
    date = day.replace("/", "-")
    return folder / f"rollout-{date}T{clock}-{sid}.jsonl"


def read_once(path: Path) -> UsageSnapshot:
    """A cold read of one rollout."""
    reader = CodexRolloutReader(path)
    reader.update()
    return reader.snapshot()


def write(path: Path, records: Iterable[dict[str, Any]]) -> Path:
    """A rollout file holding ``records``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(lines(records))
    return path


def test_fixture_rollout() -> None:
    reader = CodexRolloutReader(FIXTURE)
    reader.update()
    snap = reader.snapshot()
    # 200 input of which 50 cached; 30 output of which 10 reasoning.
    assert snap.by_model == {"gpt-5": TokenUsage(input=150, output=30, cache_read=50)}
    assert len(snap.turns) == 1
    assert snap.failures == ()
    assert snap.malformed_lines == 0
    assert reader.meta is not None
    assert reader.meta.session_id == "01a1fe08-095f-76f1-a14c-5e56cf586036"
    assert reader.meta.cwd == "/home/dev/project"


def test_re_emitted_totals_count_once(tmp_path: Path) -> None:
    first, second = tokens(100, 20, 10), tokens(250, 50, 30)
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            context("gpt-5"),
            count(first, first, 1),
            count(first, first, 2),
            count(second, tokens(150, 30, 20), 3),
            count(second, tokens(150, 30, 20), 4),
            count(None, None, 5),
        ],
    )
    snap = read_once(path)
    assert snap.total == TokenUsage(input=200, output=30, cache_read=50)
    assert len(snap.samples) == 2


def test_a_drop_in_the_total_is_a_new_process(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            context("gpt-5"),
            count(tokens(100, 20, 10), tokens(100, 20, 10), 1),
            count(tokens(300, 40, 20), tokens(200, 20, 10), 2),
            count(tokens(50, 5, 5), tokens(50, 5, 5), 3),  # resumed in a new process
            count(tokens(80, 10, 9), tokens(30, 5, 4), 4),
        ],
    )
    reader = CodexRolloutReader(path)
    reader.update()
    # (300 + 80) input, (40 + 10) cached, (20 + 9) output.
    assert reader.snapshot().total == TokenUsage(input=330, output=29, cache_read=50)
    assert reader.new_processes == 1


def test_growth_wins_over_a_disagreeing_last_usage(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            context("gpt-5"),
            count(tokens(100, 20, 10), tokens(100, 20, 10), 1),
            count(tokens(300, 40, 20), tokens(150, 10, 5), 2),  # an event lost in between
        ],
    )
    reader = CodexRolloutReader(path)
    reader.update()
    assert reader.snapshot().total == TokenUsage(input=260, output=20, cache_read=40)
    assert reader.disagreements == 1


def test_model_comes_from_turn_context(tmp_path: Path) -> None:
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            count(tokens(10, 0, 1), tokens(10, 0, 1), 0.2),  # before any turn_context
            context("gpt-5"),
            count(tokens(110, 20, 11), tokens(100, 20, 10), 1),
            context("gpt-5-codex", 2),
            count(tokens(310, 40, 21), tokens(200, 20, 10), 3),
        ],
    )
    snap = read_once(path)
    assert snap.by_model == {
        "unknown": TokenUsage(input=10, output=1),
        "gpt-5": TokenUsage(input=80, output=10, cache_read=20),
        "gpt-5-codex": TokenUsage(input=180, output=10, cache_read=20),
    }


def test_cache_writes_are_inside_input_tokens(tmp_path: Path) -> None:
    used = tokens(100, 20, 10, reasoning=4, write=30)
    path = write(tmp_path / "r.jsonl", [meta(), context("gpt-5"), count(used, used, 1)])
    assert read_once(path).total == TokenUsage(
        input=50, output=10, cache_write_5m=30, cache_read=20
    )


def test_turns_and_failures(tmp_path: Path) -> None:
    limit = (
        "You've hit your usage limit. Upgrade to Pro (https://chatgpt.com/explore/pro), "
        "or try again in 2 days 3 hours 5 minutes."
    )
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            context("gpt-5"),
            event("task_started", 1, turn_id="t1"),
            count(tokens(10, 0, 1), tokens(10, 0, 1), 2),
            event("task_complete", 3, turn_id="t1"),
            event("task_started", 4, turn_id="t2"),
            event("turn_aborted", 5, reason="interrupted"),
            event("task_started", 6, turn_id="t3"),
            event(
                "error",
                7,
                message="unexpected status 503 Service Unavailable",
                codex_error_info={"response_too_many_failed_attempts": {"http_status_code": 503}},
            ),
            event("error", 8, message="stream disconnected"),  # same turn: one failed turn
            event("task_started", 9, turn_id="t4"),
            event("error", 10, message=limit, codex_error_info="usage_limit_exceeded"),
        ],
    )
    snap = read_once(path)
    assert len(snap.turns) == 4
    assert snap.failed_turns == 3
    assert snap.failure_rate == pytest.approx(0.75)
    kinds = [(f.kind, f.status) for f in snap.failures]
    assert kinds == [
        (FailureKind.INTERRUPTED, None),
        (FailureKind.API_ERROR, 503),
        (FailureKind.API_ERROR, None),
        (FailureKind.USAGE_LIMIT, None),
    ]
    assert snap.failures[-1].resets_at == T0 + timedelta(seconds=10, days=2, hours=3, minutes=5)


def test_usage_limit_reset_from_the_rate_limit_snapshot(tmp_path: Path) -> None:
    resets = int((T0 + timedelta(hours=4)).timestamp())
    limits = {"primary": {"used_percent": 100.0, "window_minutes": 300, "resets_at": resets}}
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            event("task_started", 1, turn_id="t1"),
            event("token_count", 2, info=None, rate_limits=limits),
            event("error", 3, message="You've hit your usage limit."),
        ],
    )
    (failure,) = read_once(path).failures
    assert failure.kind is FailureKind.USAGE_LIMIT
    assert failure.resets_at == T0 + timedelta(hours=4)


def test_partial_and_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    body = lines([meta(), context("gpt-5"), count(tokens(10, 0, 1), tokens(10, 0, 1), 1)])
    torn = lines([count(tokens(99, 0, 9), tokens(89, 0, 8), 2)])[:50] + b"\n"
    path.write_bytes(body + b"{oops\n" + torn + body[:30])
    reader = CodexRolloutReader(path)
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage(input=10, output=1)
    assert snap.malformed_lines == 2
    with path.open("ab") as handle:
        handle.write(body[30 : body.index(b"\n") + 1])
        handle.write(lines([count(tokens(30, 0, 3), tokens(20, 0, 2), 3)]))
    reader.update()
    assert reader.snapshot().total == TokenUsage(input=30, output=3)
    assert reader.snapshot().malformed_lines == 2


def test_codex_home_comes_from_the_environment(tmp_path: Path) -> None:
    assert codex_home({"CODEX_HOME": str(tmp_path)}) == tmp_path
    assert codex_home({}) == Path.home() / ".codex"


def test_find_by_id_or_by_worktree_and_start_time(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    tree.mkdir()
    older = rollout_path(tmp_path, "0199-old", clock="08-00-00")
    write(older, [meta(-3600, "0199-old", str(tree))])
    mine = rollout_path(tmp_path, SID, day="2026/11/22", clock="09-00-00")
    write(mine, [meta(60, SID, str(tree))])
    elsewhere = rollout_path(tmp_path, "0199-else", clock="09-30-00")
    write(elsewhere, [meta(30, "0199-else", "/somewhere/else")])
    assert find_rollout(session_id=SID, home=tmp_path) == mine
    assert find_rollout(cwd=tree, started_after=T0, home=tmp_path) == mine
    assert find_rollout(cwd=tree, started_after=T0 - timedelta(hours=2), home=tmp_path) == older
    assert find_rollout(session_id="nope", home=tmp_path) is None
    link = tmp_path / "link"
    os.symlink(tree, link)
    assert find_rollout(cwd=link, started_after=T0, home=tmp_path) == mine
    found = read_meta(mine)
    assert found is not None
    assert (found.session_id, found.started) == (SID, T0 + timedelta(seconds=60))


def test_session_reader_waits_for_its_rollout(tmp_path: Path) -> None:
    reader = CodexSessionReader(cwd="/work/tree", started_after=T0, home=tmp_path)
    assert reader.update() == 0
    assert reader.snapshot() == UsageSnapshot()
    used = tokens(10, 2, 1)
    write(rollout_path(tmp_path), [meta(5), context("gpt-5"), count(used, used, 6)])
    assert reader.update() > 0
    assert reader.snapshot().total == TokenUsage(input=8, output=1, cache_read=2)


def rich_rollout() -> bytes:
    """The real fixture followed by re-emits, a new process, failures and a model change."""
    records = [
        event("task_started", 10, turn_id="t2"),
        count(tokens(400, 100, 60), tokens(200, 50, 30), 11),
        count(tokens(400, 100, 60), tokens(200, 50, 30), 12),
        event("turn_aborted", 13, reason="interrupted"),
        context("gpt-5-codex", 14),
        event("task_started", 14, turn_id="t3"),
        count(tokens(40, 10, 6, write=5), tokens(40, 10, 6, write=5), 15),
        event("error", 16, message="unexpected status 500"),
        count(tokens(90, 30, 9, write=5), tokens(50, 20, 3), 17),
    ]
    return FIXTURE.read_bytes() + lines(records) + b"not json\n"


def test_cold_read_of_the_rich_rollout(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(rich_rollout())
    snap = read_once(path)
    assert snap.by_model == {
        "gpt-5": TokenUsage(input=300, output=60, cache_read=100),
        # A new process (40 in, 10 cached, 5 written, 6 out), then growth of 50 / 20 / 0 / 3.
        "gpt-5-codex": TokenUsage(input=25 + 30, output=9, cache_write_5m=5, cache_read=30),
    }
    assert (len(snap.turns), snap.failed_turns, snap.malformed_lines) == (3, 2, 1)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_incremental_reads_end_where_one_cold_read_does(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    content = rich_rollout()
    folder = tmp_path_factory.mktemp("codex")
    cold_path = folder / "cold.jsonl"
    cold_path.write_bytes(content)
    cold = read_once(cold_path)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=15)))
    path = folder / "warm.jsonl"
    path.write_bytes(b"")
    reader = CodexRolloutReader(path)
    start = 0
    for cut in [*cuts, len(content)]:
        with path.open("ab") as handle:
            handle.write(content[start:cut])
        start = cut
        reader.update()
    assert reader.snapshot() == cold


# Fixtures made by the real Codex against a fake API (tests/realcli/make_fixtures.py); each
# scenario's expected.json comes from the fake server's request log, never from the rollout.

REAL = Path(__file__).parents[2] / "fixtures" / "real"


def real_scenarios() -> list[Path]:
    """The Codex scenario folders, if the real fixtures have been made."""
    return sorted(path.parent for path in REAL.glob("codex-*/*/expected.json"))


@pytest.mark.parametrize("scenario", real_scenarios(), ids=lambda p: p.name)
def test_real_codex_rollouts_match_the_fake_api_log(scenario: Path) -> None:
    expected = json.loads((scenario / "expected.json").read_text())
    (session,) = expected["session_ids"]
    path = find_rollout(session_id=session, home=scenario)
    assert path is not None
    reader = CodexRolloutReader(path)
    reader.update()
    snap = reader.snapshot()
    wanted = {}
    for model, entry in expected["conversation_models"].items():
        cached = entry.get("cached_input_tokens", 0)
        written = entry.get("cache_write_input_tokens", 0)
        wanted[model] = TokenUsage(
            input=entry["input_tokens"] - cached - written,
            output=entry["output_tokens"],
            cache_write_5m=written,
            cache_read=cached,
        )
    assert snap.by_model == wanted
    for model, entry in expected["conversation_models"].items():
        assert sum(1 for s in snap.samples if s.model == model) == entry["responses"]
    assert len(snap.turns) == expected["user_turns"]
    assert len(snap.failures) == expected["errors"]["count"]
    assert snap.failed_turns == expected["errors"]["count"]
    limits = [e for e in expected["errors"]["list"] if "usage_limit" in (e["error_type"] or "")]
    assert sum(f.kind is FailureKind.USAGE_LIMIT for f in snap.failures) == len(limits)
    assert snap.malformed_lines == 0
    assert reader.disagreements == 0


def test_a_failed_completion_is_a_failed_turn(tmp_path: Path) -> None:
    text = "You've hit your usage limit. Visit the settings or try again at 4:56 PM."
    path = write(
        tmp_path / "r.jsonl",
        [
            meta(),
            event("task_started", 1, turn_id="t1"),
            event(
                "task_complete",
                2,
                turn_id="t1",
                error={"message": text, "codex_error_info": "usage_limit_exceeded"},
            ),
        ],
    )
    (failure,) = read_once(path).failures
    assert failure.kind is FailureKind.USAGE_LIMIT
    assert failure.resets_at is not None
    local = failure.resets_at.astimezone(datetime.now().astimezone().tzinfo)
    assert (local.hour, local.minute) == (16, 56)
