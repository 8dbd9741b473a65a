"""The Claude transcript reader: dedup, sidechains, subagents, failures, incremental reads."""

from __future__ import annotations

import importlib.util
import itertools
import json
import random
import shutil
import tempfile
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic_core import from_json

from agentmux.core.metrics.claude_response_counts import Counted, counted_fast, counted_of
from agentmux.core.metrics.claude_transcript_files import claude_config_dir, find_session_files
from agentmux.core.metrics.claude_transcript_reader import (
    ClaudeSessionReader,
    ClaudeTranscriptReader,
)
from agentmux.core.metrics.failure_text import stated_reset
from agentmux.core.metrics.usage import FailureKind, TokenUsage, UsageSnapshot

FIXTURES = Path(__file__).parents[2] / "fixtures"
INTERACTIVE = FIXTURES / "claude-code-2.1.197-interactive.jsonl"
PRINT = FIXTURES / "claude-code-2.1.197-print.jsonl"
SESSION = "5d0c8a3e-0000-4000-8000-000000000001"
MODEL = "claude-sonnet-4-5-20250929"
T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def stamp(seconds: float) -> str:
    """A Claude-style timestamp ``seconds`` after T0."""
    when = T0 + timedelta(seconds=seconds)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def usage(
    inp: int = 0, out: int = 0, five: int = 0, hour: int = 0, read: int = 0
) -> dict[str, Any]:
    """A ``message.usage`` object as the API writes it (total and TTL split agree)."""
    return {
        "input_tokens": inp,
        "cache_creation_input_tokens": five + hour,
        "cache_read_input_tokens": read,
        "output_tokens": out,
        "service_tier": "standard",
        "cache_creation": {"ephemeral_5m_input_tokens": five, "ephemeral_1h_input_tokens": hour},
    }


def assistant(
    message_id: str,
    tokens: dict[str, Any],
    at: float,
    *,
    request: str | None = "req",
    sidechain: bool = False,
    model: str = MODEL,
) -> dict[str, Any]:
    """One ``assistant`` line of a response."""
    record: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": sidechain,
        "type": "assistant",
        "uuid": f"u-{message_id}-{at}-{sidechain}",
        "timestamp": stamp(at),
        "sessionId": SESSION,
        "message": {
            "id": message_id,
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "ok"}],
            "usage": tokens,
        },
    }
    if request is not None:
        record["requestId"] = f"{request}_{message_id}"
    return record


def prompt(
    text: str, at: float, uid: str | None = None, *, sidechain: bool = False
) -> dict[str, Any]:
    """A prompt the user typed."""
    return {
        "type": "user",
        "isSidechain": sidechain,
        "uuid": uid or f"p-{at}",
        "timestamp": stamp(at),
        "sessionId": SESSION,
        "message": {"role": "user", "content": text},
    }


def tool_result(text: str, at: float) -> dict[str, Any]:
    """A tool's result, as Claude Code records it (a ``user`` record)."""
    return {
        "type": "user",
        "isSidechain": False,
        "uuid": f"t-{at}",
        "timestamp": stamp(at),
        "message": {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": text}],
        },
        "toolUseResult": {"stdout": text, "stderr": ""},
    }


def interrupted(at: float, text: str = "[Request interrupted by user]") -> dict[str, Any]:
    """The record Claude Code writes when the user interrupts a turn."""
    return {
        "type": "user",
        "isSidechain": False,
        "uuid": f"i-{at}",
        "timestamp": stamp(at),
        "message": {"role": "user", "content": [{"type": "text", "text": text}]},
    }


def api_error(
    text: str, at: float, status: int | None = 529, error: str = "server_error"
) -> dict[str, Any]:
    """A synthetic API-error record (zero usage)."""
    record: dict[str, Any] = {
        "type": "assistant",
        "isSidechain": False,
        "uuid": f"e-{at}",
        "timestamp": stamp(at),
        "message": {
            "id": f"synthetic-{at}",
            "model": "<synthetic>",
            "role": "assistant",
            "type": "message",
            "usage": usage(),
            "content": [{"type": "text", "text": text}],
        },
        "error": error,
        "isApiErrorMessage": True,
    }
    if status is not None:
        record["apiErrorStatus"] = status
    return record


def lines(records: Iterable[dict[str, Any]]) -> bytes:
    """Records as Claude Code writes them: compact JSON, one a line."""
    return b"".join(
        json.dumps(r, separators=(",", ":"), ensure_ascii=False).encode() + b"\n" for r in records
    )


def session_dir(root: Path, session: str = SESSION, project: str = "-work-repo") -> Path:
    """Where a session's main transcript goes under a config dir."""
    folder = root / "projects" / project
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write(path: Path, data: bytes) -> Path:
    """Create ``path`` (and its folders) holding ``data``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def read_once(*paths: Path) -> UsageSnapshot:
    """A cold read of ``paths``."""
    reader = ClaudeTranscriptReader(paths)
    reader.update()
    return reader.snapshot()


def comparable(snap: UsageSnapshot) -> tuple[object, ...]:
    """A snapshot with its samples in a canonical order."""
    samples = sorted(snap.samples, key=lambda s: (s.time, s.model, astuple(s.usage)))
    return (
        snap.by_model,
        snap.turns,
        snap.failed_turns,
        snap.failures,
        snap.malformed_lines,
        snap.first,
        snap.last,
        samples,
    )


def astuple(u: TokenUsage) -> tuple[int, ...]:
    """A usage's counts in field order."""
    return (u.input, u.output, u.cache_write_5m, u.cache_write_1h, u.cache_read)


# The real transcripts


def test_interactive_fixture_counts_each_response_once_and_finds_both_failures() -> None:
    snap = read_once(INTERACTIVE)
    # Five responses of 1000 in / 100 out / 200 cache write / 500 cache read each. The fake API
    # said cache_creation_input_tokens=200 with a 0/0 TTL split: the billed total is 200, at
    # the default (5-minute) rate.
    assert snap.by_model == {
        "claude-opus-4-8": TokenUsage(
            input=5000, output=500, cache_write_5m=1000, cache_write_1h=0, cache_read=2500
        )
    }
    assert len(snap.samples) == 5
    assert len(snap.turns) == 5
    assert snap.failed_turns == 2
    assert snap.failure_rate == pytest.approx(0.4)
    kinds = [(f.kind, f.status) for f in snap.failures]
    assert kinds == [(FailureKind.INTERRUPTED, None), (FailureKind.API_ERROR, 529)]
    assert snap.failures[1].reason.startswith("API Error: 529 Overloaded")
    assert snap.malformed_lines == 0
    assert snap.first == datetime(2026, 11, 21, 12, 16, 26, 705000, tzinfo=UTC)
    assert snap.last == datetime(2026, 11, 21, 12, 20, 2, 353000, tzinfo=UTC)
    assert "<synthetic>" not in snap.by_model


def test_print_fixture() -> None:
    snap = read_once(PRINT)
    assert snap.total == TokenUsage(input=123, output=42)
    assert len(snap.turns) == 1
    assert snap.failures == ()


# Dedup


def test_placeholder_then_final_counts_the_final_once_even_when_read_in_between(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.jsonl"
    write(path, lines([prompt("go", 0), assistant("msg_a", usage(100, 1, read=50), 1)]))
    reader = ClaudeTranscriptReader([path])
    reader.update()
    assert reader.snapshot().total == TokenUsage(input=100, output=1, cache_read=50)
    with path.open("ab") as handle:
        handle.write(lines([assistant("msg_a", usage(100, 240, read=50), 2)]))
        handle.write(lines([assistant("msg_a", usage(100, 1, read=50), 3)]))
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage(input=100, output=240, cache_read=50)
    assert len(snap.samples) == 1
    assert snap.samples[0].usage.output == 240


def test_key_is_message_id_with_request_id(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines(
            [
                assistant("m1", usage(10, 3), 1, request="a"),
                assistant("m1", usage(10, 4), 2, request="b"),  # another request: new spend
                assistant("m2", usage(10, 1), 3, request=None),
                assistant("m2", usage(10, 7), 4, request=None),  # same id, no requestId
            ]
        ),
    )
    assert read_once(path).total == TokenUsage(input=30, output=14)


def test_non_sidechain_record_wins_over_a_larger_sidechain_one(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines(
            [
                assistant("m1", usage(10, 5), 1),
                assistant("m1", usage(10, 50), 2, sidechain=True),
                assistant("m2", usage(10, 50), 3, sidechain=True),
                assistant("m2", usage(10, 5), 4),
            ]
        ),
    )
    assert read_once(path).total == TokenUsage(input=20, output=10)


def test_subagent_files_are_spend_of_the_session_and_replays_are_not(tmp_path: Path) -> None:
    main = session_dir(tmp_path) / f"{SESSION}.jsonl"
    write(main, lines([prompt("task", 0), assistant("m1", usage(10, 5), 1)]))
    sub = main.with_suffix("") / "subagents" / "agent-a1.jsonl"
    write(
        sub,
        lines(
            [
                prompt("sub task", 2, sidechain=True),
                assistant("m1", usage(10, 500), 2, sidechain=True),  # replay of the parent's
                assistant("s1", usage(100, 50, five=20), 3, sidechain=True),
                api_error("API Error: 500", 4) | {"isSidechain": True},
            ]
        ),
    )
    assert find_session_files(SESSION, tmp_path) == [main, sub]
    reader = ClaudeSessionReader(SESSION, tmp_path)
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage(input=110, output=55, cache_write_5m=20)
    assert len(snap.turns) == 1  # the subagent's prompt is not a turn of the session
    assert snap.failures == ()  # nor is its error a failure of the session's


def test_session_found_by_id_in_any_project_dir_and_late_subagents_are_picked_up(
    tmp_path: Path,
) -> None:
    other = session_dir(tmp_path, project="-work-repo-a") / "another-session.jsonl"
    write(other, lines([assistant("x", usage(999, 999), 1)]))
    reader = ClaudeSessionReader(SESSION, tmp_path)
    assert reader.update() == 0  # nothing yet: not an error
    main = session_dir(tmp_path, project="-work-repo-b") / f"{SESSION}.jsonl"
    write(main, lines([assistant("m1", usage(10, 5), 1)]))
    reader.update()
    assert reader.snapshot().total == TokenUsage(input=10, output=5)
    write(
        main.with_suffix("") / "subagents" / "agent-b.jsonl",
        lines([assistant("s1", usage(1, 1), 2, sidechain=True)]),
    )
    reader.update()
    assert reader.snapshot().total == TokenUsage(input=11, output=6)


def test_config_dir_comes_from_claude_config_dir(tmp_path: Path) -> None:
    assert claude_config_dir({"CLAUDE_CONFIG_DIR": str(tmp_path)}) == tmp_path
    assert claude_config_dir({}) == Path.home() / ".claude"


def test_cache_write_split_by_lifetime(tmp_path: Path) -> None:
    path = write(tmp_path / "s.jsonl", lines([assistant("m", usage(1, 1, five=30, hour=70), 1)]))
    assert read_once(path).total == TokenUsage(1, 1, cache_write_5m=30, cache_write_1h=70)


def test_a_usage_without_the_split_is_all_five_minute_writes(tmp_path: Path) -> None:
    raw = {"input_tokens": 5, "output_tokens": 2, "cache_creation_input_tokens": 40}
    path = write(tmp_path / "s.jsonl", lines([assistant("m", raw, 1)]))
    assert read_once(path).total == TokenUsage(5, 2, cache_write_5m=40)


# Failures and turns


def test_api_error_is_a_failed_turn_that_costs_nothing(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines([prompt("hi", 0), api_error("API Error: 529 Overloaded.", 5)]),
    )
    snap = read_once(path)
    assert snap.total == TokenUsage()
    assert snap.by_model == {}
    assert len(snap.turns) == 1
    assert snap.failed_turns == 1
    (failure,) = snap.failures
    assert (failure.kind, failure.status, failure.resets_at) == (FailureKind.API_ERROR, 529, None)


def test_rate_limit_is_kept_apart(tmp_path: Path) -> None:
    text = "API Error: 429 rate_limit_error: Number of request tokens has exceeded your limit."
    path = write(
        tmp_path / "s.jsonl",
        lines([prompt("hi", 0), api_error(text, 1, status=429, error="rate_limit")]),
    )
    (failure,) = read_once(path).failures
    assert (failure.kind, failure.status) == (FailureKind.RATE_LIMIT, 429)


def test_usage_limit_with_an_epoch_reset(tmp_path: Path) -> None:
    record = api_error("Claude AI usage limit reached|1795269600", 1, status=None)
    record.pop("isApiErrorMessage")  # older versions wrote it as a plain synthetic message
    path = write(tmp_path / "s.jsonl", lines([prompt("hi", 0), record]))
    snap = read_once(path)
    (failure,) = snap.failures
    assert failure.kind is FailureKind.USAGE_LIMIT
    assert failure.resets_at == datetime.fromtimestamp(1795269600, tz=UTC)
    assert snap.failed_turns == 1


def test_usage_limit_with_a_clock_reset_in_a_named_zone(tmp_path: Path) -> None:
    text = "You've hit your limit · resets 5pm (Europe/Berlin)"
    path = write(tmp_path / "s.jsonl", lines([prompt("hi", 0), api_error(text, 1, status=429)]))
    (failure,) = read_once(path).failures
    assert failure.kind is FailureKind.USAGE_LIMIT
    # T0 is 10:00 UTC = 11:00 in Berlin: the next 5pm there is the same day.
    assert failure.resets_at == datetime(2026, 11, 21, 17, 0, tzinfo=ZoneInfo("Europe/Berlin"))


def test_reset_times_stated_in_other_words() -> None:
    when = datetime(2026, 11, 21, 18, 30, tzinfo=UTC)
    later = stated_reset("5-hour limit reached ∙ resets 5pm (UTC)", when)
    assert later == datetime(2026, 11, 22, 17, 0, tzinfo=ZoneInfo("UTC"))
    dated = stated_reset("Weekly limit reached · resets Dec 2, 9:30am (UTC)", when)
    assert dated == datetime(2026, 12, 2, 9, 30, tzinfo=ZoneInfo("UTC"))
    assert stated_reset("API Error: 529 Overloaded", when) is None


def test_synthetic_no_response_message_is_not_a_failure(tmp_path: Path) -> None:
    record = api_error("No response requested.", 2, status=None)
    record.pop("isApiErrorMessage")
    record.pop("error")
    path = write(tmp_path / "s.jsonl", lines([prompt("hi", 0), record]))
    assert read_once(path).failures == ()


def test_interruption_fails_the_turn_once(tmp_path: Path) -> None:
    during_tool = "[Request interrupted by user for tool use]"
    path = write(
        tmp_path / "s.jsonl",
        lines(
            [
                prompt("write it", 0),
                assistant("m1", usage(10, 5), 1),
                tool_result(during_tool, 2),
                interrupted(2.1, during_tool),
                prompt("never mind", 3),
                assistant("m2", usage(10, 5), 4),
            ]
        ),
    )
    snap = read_once(path)
    assert len(snap.turns) == 2
    assert snap.failed_turns == 1
    assert [f.kind for f in snap.failures] == [FailureKind.INTERRUPTED]


def test_only_prompts_the_agent_acted_on_are_turns(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines(
            [
                prompt("<command-name>/model</command-name>", 0),
                prompt("<local-command-stdout>Set model to sonnet</local-command-stdout>", 1),
                prompt("real work", 2),
                assistant("m1", usage(10, 5), 3),
                tool_result("x" * 1000, 4),
                assistant("m2", usage(10, 5), 5),
                prompt("typed, not answered yet", 6),
            ]
        ),
    )
    snap = read_once(path)
    assert snap.turns == (T0 + timedelta(seconds=2),)


def test_demo_agent_transcripts_read_by_the_same_path(tmp_path: Path) -> None:
    from agentmux.demo_agent.transcript import DEMO_MODEL, Transcript, usage_for

    transcript = Transcript(tmp_path, str(tmp_path), SESSION)
    transcript.user("hello there")
    transcript.assistant(
        "msg_demo1", [], {**usage_for("hello there", "", 1), "output_tokens": 1}, None
    )
    transcript.tool_result("toolu_1", "done")
    transcript.assistant("msg_demo1", [], usage_for("hello there", "All done.", 1), "end_turn")
    transcript.turn_duration(10, 2)
    transcript.user("fail please")
    transcript.api_error(529, "API Error: 529 Overloaded.")
    reader = ClaudeSessionReader(SESSION, tmp_path)
    reader.update()
    snap = reader.snapshot()
    expected = usage_for("hello there", "All done.", 1)
    assert snap.by_model == {
        DEMO_MODEL: TokenUsage(
            input=expected["input_tokens"],
            output=expected["output_tokens"],
            cache_write_5m=expected["cache_creation_input_tokens"],
            cache_read=expected["cache_read_input_tokens"],
        )
    }
    assert (len(snap.turns), snap.failed_turns) == (2, 1)
    assert snap.failures[0].status == 529


# Incremental reading


def test_partial_last_line_waits_for_its_newline(tmp_path: Path) -> None:
    path = tmp_path / "s.jsonl"
    whole = lines([prompt("hi", 0), assistant("m1", usage(10, 5), 1)])
    half = len(whole) - 40
    write(path, whole[:half])
    reader = ClaudeTranscriptReader([path])
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage()
    assert snap.malformed_lines == 0
    with path.open("ab") as handle:
        handle.write(whole[half:])
    assert reader.update() == len(whole) - whole.index(b"\n") - 1
    snap = reader.snapshot()
    assert snap.total == TokenUsage(10, 5)
    assert snap.malformed_lines == 0


def test_malformed_lines_are_skipped_and_counted(tmp_path: Path) -> None:
    good = lines([prompt("hi", 0), assistant("m1", usage(10, 5), 1)])
    torn = lines([assistant("m2", usage(99, 99), 2)])[:60] + b"\n"
    path = write(
        tmp_path / "s.jsonl",
        b"not json at all\n" + torn + b"[1, 2]\n\n" + b'{"type":"user" \xff}\n' + good,
    )
    snap = read_once(path)
    assert snap.total == TokenUsage(10, 5)
    assert snap.malformed_lines == 4
    assert len(snap.turns) == 1


def test_catch_up_reads_only_the_appended_bytes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines(assistant(f"m{n}", usage(10, 5), n) for n in range(2000)),
    )
    reader = ClaudeTranscriptReader([path])
    reader.update()
    extra = lines([assistant("late", usage(1, 1), 5000)])
    with path.open("ab") as handle:
        handle.write(extra)
    assert reader.update() == len(extra)
    assert reader.update() == 0
    assert reader.snapshot().total == TokenUsage(20001, 10001)


def test_a_file_rewritten_shorter_is_read_again_without_double_counting(tmp_path: Path) -> None:
    path = write(
        tmp_path / "s.jsonl",
        lines([prompt("hi", 0), assistant("m1", usage(10, 5), 1), assistant("m2", usage(1, 1), 2)]),
    )
    reader = ClaudeTranscriptReader([path])
    reader.update()
    write(path, lines([prompt("hi", 0), assistant("m1", usage(10, 5), 1)]))
    reader.update()
    snap = reader.snapshot()
    assert snap.total == TokenUsage(11, 6)
    assert len(snap.turns) == 1


def rich_session(root: Path) -> list[Path]:
    """A session with every case at once: the real fixture, duplicates, sidechains, a subagent."""
    main = session_dir(root) / f"{SESSION}.jsonl"
    records: list[dict[str, Any]] = [
        prompt("one", 0),
        assistant("r1", usage(100, 1, five=10), 1),
        tool_result("y" * 3000, 2),
        assistant("r1", usage(100, 80, five=10), 3),
        assistant("r2", usage(50, 2, read=500), 4, sidechain=True),
        prompt("two", 5),
        api_error("API Error: 529 Overloaded.", 6),
        prompt("three", 7),
        assistant("r3", usage(20, 1, hour=300), 8),
        interrupted(9),
        assistant("r2", usage(50, 20, read=500), 10),
        prompt("four", 11),
        assistant("r4", usage(7, 7), 11),
        assistant("r4", usage(7, 7), 11),
    ]
    data = INTERACTIVE.read_bytes() + lines(records) + b"garbage\n"
    write(main, data)
    sub = main.with_suffix("") / "subagents" / "agent-z.jsonl"
    write(
        sub,
        lines(
            [
                prompt("sub", 1, sidechain=True),
                assistant("s1", usage(30, 1), 2, sidechain=True),
                assistant("r1", usage(100, 500, five=10), 2, sidechain=True),
                assistant("s1", usage(30, 9), 3, sidechain=True),
                assistant("r4", usage(7, 7), 11, sidechain=True),
            ]
        ),
    )
    return [main, sub]


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_incremental_reads_end_where_one_cold_read_does(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    source = tmp_path_factory.mktemp("src")
    files = rich_session(source)
    cold = read_once(*files)
    target = tmp_path_factory.mktemp("dst")
    contents = [path.read_bytes() for path in files]
    pieces: list[tuple[int, bytes]] = []
    for index, content in enumerate(contents):
        cuts = sorted(data.draw(st.lists(st.integers(0, len(content)), max_size=12)))
        bounds = [0, *cuts, len(content)]
        pieces.extend((index, content[a:b]) for a, b in itertools.pairwise(bounds))
    # Interleave the files' pieces in a random order that keeps each file's own order.
    rng = random.Random(data.draw(st.integers(0, 2**32)))
    queues = [[p for p in pieces if p[0] == i] for i in range(len(files))]
    order: list[tuple[int, bytes]] = []
    while any(queues):
        queue = rng.choice([q for q in queues if q])
        order.append(queue.pop(0))
    targets = [target / path.relative_to(source) for path in files]
    for path in targets:
        write(path, b"")
    reader = ClaudeSessionReader(SESSION, target)
    for index, piece in order:
        with targets[index].open("ab") as handle:
            handle.write(piece)
        if rng.random() < 0.7:
            reader.update()
    reader.update()
    assert comparable(reader.snapshot()) == comparable(cold)
    shutil.rmtree(target)


def test_cold_read_of_the_rich_session(tmp_path: Path) -> None:
    snap = read_once(*rich_session(tmp_path))
    fixture = TokenUsage(5000, 500, 1000, 0, 2500)
    assert snap.by_model == {
        "claude-opus-4-8": fixture,
        MODEL: TokenUsage(100 + 50 + 20 + 7 + 30, 80 + 20 + 1 + 7 + 9, 10, 300, 500),
    }
    assert len(snap.turns) == 5 + 4
    assert snap.failed_turns == 2 + 2
    assert snap.malformed_lines == 1


def test_long_lines_are_judged_by_their_head_without_losing_anything(tmp_path: Path) -> None:
    big = "z" * 50_000
    long_answer = assistant("m1", usage(10, 5), 1)
    long_answer["message"]["content"] = [
        {"type": "tool_use", "id": "toolu_1", "name": "Write", "input": {"content": big}}
    ]
    torn = lines([tool_result(big, 2)])[:30_000] + b"\n"
    path = write(
        tmp_path / "s.jsonl",
        lines([prompt("go", 0), long_answer, tool_result(big, 2)])
        + torn
        + lines([tool_result("[Request interrupted by user for tool use]" + big, 3)])
        + lines([prompt("paste: " + big, 4), assistant("m2", usage(1, 1), 5)]),
    )
    snap = read_once(path)
    assert snap.total == TokenUsage(11, 6)
    assert snap.malformed_lines == 1
    assert [f.kind for f in snap.failures] == [FailureKind.INTERRUPTED]
    assert len(snap.turns) == 2


def test_reading_many_sessions_on_several_processes_gives_the_same_figures(
    tmp_path: Path,
) -> None:
    from agentmux.core.metrics.claude_history_read import read_sessions

    ids = []
    for n in range(4):
        session = f"{SESSION[:-1]}{n}"
        ids.append(session)
        folder = session_dir(tmp_path, project=f"-p{n}")
        write(folder / f"{session}.jsonl", INTERACTIVE.read_bytes() * (n + 1))
    alone = read_sessions(ids, tmp_path)
    shared = read_sessions(ids, tmp_path, workers=2, parallel_from=0)
    assert list(shared) == ids
    assert shared == alone
    assert alone[ids[2]].total == read_once(INTERACTIVE).total


# Fixtures made by the real Claude Code against a fake API (tests/realcli/make_fixtures.py); each
# scenario's expected.json comes from the fake server's request log, never from the transcript.

REAL = Path(__file__).parents[2] / "fixtures" / "real"
USAGE_KEYS = {
    "input": "input_tokens",
    "output": "output_tokens",
    "cache_write_5m": "cache_creation_5m_input_tokens",
    "cache_write_1h": "cache_creation_1h_input_tokens",
    "cache_read": "cache_read_input_tokens",
}


def real_scenarios(cli: str) -> list[Path]:
    """The scenario folders of one CLI's real fixtures, if they have been made."""
    return sorted(path.parent for path in REAL.glob(f"{cli}-*/*/expected.json"))


def from_log(entry: dict[str, Any]) -> TokenUsage:
    """One model's totals in the fake server's log, as a usage."""
    return TokenUsage(**{field: int(entry.get(key, 0)) for field, key in USAGE_KEYS.items()})


@pytest.mark.parametrize("scenario", real_scenarios("claude-code"), ids=lambda p: p.name)
def test_real_claude_code_transcripts_match_the_fake_api_log(scenario: Path) -> None:
    expected = json.loads((scenario / "expected.json").read_text())
    (session,) = expected["session_ids"]
    reader = ClaudeSessionReader(session, scenario)
    reader.update()
    snap = reader.snapshot()
    # Requests the CLI makes on the side (the session title, a quota check) never reach the
    # transcript: the transcript's spend is the conversation's.
    conversation = {m: from_log(e) for m, e in expected["conversation_models"].items()}
    # A stream the user cut short was billed its input; the transcript keeps the partial
    # record Claude Code wrote (input and cache counts in full, output as far as it got).
    aborted: dict[str, list[TokenUsage]] = {}
    for entry in expected["aborted"]:
        aborted.setdefault(entry["model"], []).append(from_log(entry["scripted_usage"]))
    assert set(snap.by_model) == set(conversation) | set(aborted)
    for model, ours in snap.by_model.items():
        done = conversation.get(model, TokenUsage())
        cut = aborted.get(model, [])
        whole = sum(cut, TokenUsage()) + done
        assert (ours.input, ours.cache_write_5m, ours.cache_write_1h, ours.cache_read) == (
            whole.input,
            whole.cache_write_5m,
            whole.cache_write_1h,
            whole.cache_read,
        ), model
        assert done.output + len(cut) <= ours.output <= whole.output, model
        responses = expected["conversation_models"].get(model, {}).get("responses", 0)
        assert sum(1 for s in snap.samples if s.model == model) == responses + len(cut)
    assert len(snap.turns) == expected["user_turns"]
    api_failures = [f for f in snap.failures if f.kind is not FailureKind.INTERRUPTED]
    assert sorted(f.status or 0 for f in api_failures) == sorted(
        e["status"] for e in expected["errors"]["list"]
    )
    interrupted_turns = [f for f in snap.failures if f.kind is FailureKind.INTERRUPTED]
    assert bool(interrupted_turns) == bool(expected["aborted"])
    assert snap.failed_turns == len(snap.failures)
    assert snap.malformed_lines == 0
    if snap.agent_reported is not None and not expected["aborted"]:
        side_kinds = {r["kind"] for r in expected["side_requests"]}
        if side_kinds <= {"title"}:
            # Claude Code's own cost-state counts the title request too: the whole log.
            assert snap.agent_reported == {m: from_log(e) for m, e in expected["models"].items()}


def test_usage_limit_in_the_real_transcript() -> None:
    scenario = REAL / "claude-code-2.1.330" / "usage-limit"
    if not scenario.exists():
        pytest.skip("real fixtures not made")
    (session,) = json.loads((scenario / "expected.json").read_text())["session_ids"]
    reader = ClaudeSessionReader(session, scenario)
    reader.update()
    (failure,) = reader.snapshot().failures
    assert failure.kind is FailureKind.USAGE_LIMIT
    assert failure.resets_at is not None
    assert failure.resets_at > failure.time


def test_the_agents_own_cost_state_is_kept_apart(tmp_path: Path) -> None:
    state = {
        "type": "cost-state",
        "sessionId": SESSION,
        "totalCostUSD": 0.0123,
        "modelUsage": {
            MODEL: {
                "inputTokens": 310 + 10,
                "outputTokens": 11 + 5,
                "cacheReadInputTokens": 0,
                "cacheCreationInputTokens": 40,
                "cacheCreationEphemeral5mInputTokens": 30,
                "cacheCreationEphemeral1hInputTokens": 10,
            }
        },
        "hasUnknownModelCost": False,
    }
    path = write(
        tmp_path / "s.jsonl",
        lines([prompt("hi", 0), assistant("m1", usage(10, 5, five=30, hour=10), 1), state]),
    )
    snap = read_once(path)
    assert snap.total == TokenUsage(10, 5, 30, 10)
    assert snap.agent_reported == {MODEL: TokenUsage(320, 16, 30, 10)}
    assert snap.agent_reported_cost == Decimal("0.0123")


def test_a_prompt_claude_code_sends_itself_is_not_a_turn(tmp_path: Path) -> None:
    notice = prompt("<task-notification>done</task-notification>", 3) | {
        "promptSource": "system",
        "origin": {"kind": "task-notification"},
    }
    path = write(
        tmp_path / "s.jsonl",
        lines(
            [
                prompt("go", 0),
                assistant("m1", usage(1, 1), 1),
                notice,
                assistant("m2", usage(1, 1), 4),
            ]
        ),
    )
    assert len(read_once(path).turns) == 1


def test_lines_longer_than_a_read_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from agentmux.core.metrics import jsonl_reading

    files = rich_session(tmp_path)
    expected = comparable(read_once(*files))
    monkeypatch.setattr(jsonl_reading, "CHUNK", 100)
    assert comparable(read_once(*files)) == expected


# The fast path: an assistant line's counts read without a full parse must be the full parse's.


def full_parse(line: bytes) -> Counted | None:
    """What the reader counts for ``line`` when it parses all of it."""
    try:
        record = from_json(line)
    except ValueError:
        return None
    if type(record) is not dict or record.get("type") != "assistant":
        return None
    return counted_of(record)


def assert_fast_agrees(line: bytes) -> Counted | None:
    """``counted_fast(line)``, after checking it is unsure or says what the full parse says."""
    fast = counted_fast(line)
    if fast is not None:
        assert fast == full_parse(line), line
    return fast


needs_msgspec = pytest.mark.skipif(
    importlib.util.find_spec("msgspec") is None, reason="the fast path needs msgspec"
)


def fixture_lines() -> list[bytes]:
    """Every line of every Claude transcript fixture, real ones included."""
    paths = [*FIXTURES.glob("claude-*.jsonl"), *REAL.glob("claude-code-*/**/*.jsonl")]
    return [line for path in sorted(paths) for line in path.read_bytes().splitlines()]


@needs_msgspec
def test_fast_path_agrees_with_the_full_parse_on_every_fixture_line() -> None:
    answered = 0
    for line in fixture_lines():
        fast = assert_fast_agrees(line)
        if full_parse(line) is not None:
            assert fast is not None, line  # a real response is never left to the slow path
            answered += 1
    assert answered >= 5


@needs_msgspec
@pytest.mark.parametrize(
    "line",
    [
        # Text msgspec skips without checking it is UTF-8: not JSON to the full parse.
        lines([assistant("m", usage(1, 1), 1) | {"note": "x"}]).replace(b'"x"', b'"\xff"'),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"ok"', b'"\xed\xa0\x80"'),
        # JSON the full parse accepts and msgspec does not: left to the full parse.
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"ok"', b"NaN"),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"ok"', b"1e400"),
        # Usage nested in a tool's input, none in the message.
        lines(
            [
                assistant("m", usage(1, 1), 1)
                | {
                    "message": {
                        "id": "m",
                        "model": MODEL,
                        "content": [{"type": "tool_use", "input": {"usage": usage(9, 9)}}],
                    }
                }
            ]
        ),
        # Keys written twice (the last one counts), or with escapes.
        lines([assistant("m", usage(1, 1), 1)])[:-2] + b',"message":{"id":"x","usage":{}}}',
        lines([assistant("m", usage(1, 1), 1)])[:-2] + b',"isSidechain":true}',
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"input_tokens":1,', b'"input_tokens":1,"input_tokens":7,'
        ),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"usage"', b'"us\\u0061ge"'),
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"type":"assistant"', b'"t\\u0079pe":"assistant"'
        ),
        # Counts that are not plain non-negative integers.
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"input_tokens":1', b'"input_tokens":-4'),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"input_tokens":1', b'"input_tokens":1.0'),
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"input_tokens":1', b'"input_tokens":true'
        ),
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"input_tokens":1', b'"input_tokens":null'
        ),
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"input_tokens":1', b'"input_tokens":99999999999999999999999'
        ),
        lines([assistant("m", usage(1, 1, five=3), 1)]).replace(
            b'"ephemeral_5m_input_tokens":3', b'"ephemeral_5m_input_tokens":"3"'
        ),
        # Ids and flags of other types.
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"id":"m"', b'"id":7'),
        lines([assistant("m", usage(1, 1), 1)]).replace(
            b'"requestId":"req_m"', b'"requestId":["a"]'
        ),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"isSidechain":false', b'"isSidechain":1'),
        lines([assistant("m", usage(1, 1), 1)]).replace(b'"timestamp":"', b'"timestamp":"x'),
        lines([assistant("m", usage(1, 1), 1) | {"isApiErrorMessage": "yes"}]),
        # Whitespace JSON allows, and a torn line.
        json.dumps(assistant("m", usage(1, 2, read=3), 1), indent=None).encode(),
        b" \t" + lines([assistant("m", usage(1, 1), 1)]).rstrip() + b"\r",
        lines([assistant("m", usage(1, 1), 1)])[:-30],
    ],
)
def test_fast_path_is_unsure_or_right_on_odd_lines(line: bytes) -> None:
    assert_fast_agrees(line.rstrip(b"\n"))


# Any JSON value, small.
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-(2**70), 2**70),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
    ),
    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=6), kids),
    max_leaves=6,
)


def perturbed(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly a well-formed value, now and then any other JSON value."""
    return st.integers(0, 15).flatmap(lambda n: JSON_VALUES if n == 15 else good)


TEXT = st.text(
    st.characters(codec="utf-8")
    | st.sampled_from(['"', "\\", "\n", "{", "}", "[", "]", "é", "🎉"]),
    max_size=40,
)


@st.composite
def assistant_records(draw: st.DrawFn) -> dict[str, Any]:
    """An assistant record as Claude Code writes one, with any field now and then odd or gone."""
    count = perturbed(st.integers(0, 10**7))
    split = {
        "ephemeral_1h_input_tokens": draw(count),
        "ephemeral_5m_input_tokens": draw(count),
    }
    raw_usage: dict[str, Any] = {
        "input_tokens": draw(count),
        "cache_creation_input_tokens": draw(count),
        "cache_read_input_tokens": draw(count),
        "output_tokens": draw(count),
        "service_tier": "standard",
        "cache_creation": draw(perturbed(st.just(split))),
        "speed": draw(perturbed(st.sampled_from(["standard", "fast"]))),
    }
    content = draw(
        st.lists(
            st.one_of(
                st.builds(lambda t: {"type": "text", "text": t}, TEXT),
                st.builds(
                    lambda t, u: {
                        "type": "tool_use",
                        "id": "toolu_1",
                        "input": {"c": t, "usage": u},
                    },
                    TEXT,
                    st.just(raw_usage) | JSON_VALUES,
                ),
            ),
            max_size=3,
        )
    )
    message: dict[str, Any] = {
        "id": draw(perturbed(st.sampled_from(["msg_1", "msg_2"]))),
        "type": "message",
        "role": "assistant",
        "model": draw(perturbed(st.sampled_from([MODEL, MODEL, "<synthetic>"]))),
        "content": content,
        "stop_reason": None,
        "usage": draw(perturbed(st.just(raw_usage))),
    }
    record: dict[str, Any] = {
        "parentUuid": None,
        "isSidechain": draw(perturbed(st.booleans())),
        "message": draw(perturbed(st.just(message))),
        "requestId": draw(perturbed(st.sampled_from(["req_1", "req_2"]))),
        "type": draw(perturbed(st.sampled_from(["assistant", "assistant", "user"]))),
        "uuid": "u1",
        "timestamp": draw(perturbed(st.sampled_from([stamp(1), "2026-11-21T10:00:00+02:00"]))),
    }
    if draw(st.booleans()):
        record["isApiErrorMessage"] = draw(perturbed(st.booleans()))
    for mapping in (record, message, raw_usage):
        for key in draw(st.lists(st.sampled_from(sorted(mapping)), max_size=2)):
            mapping.pop(key, None)
    return record


def encode(value: Any, draw: Callable[[st.SearchStrategy[Any]], Any]) -> str:
    """``value`` as JSON text in any key order, spacing and escaping, keys sometimes repeated."""
    if isinstance(value, dict):
        items = draw(st.permutations(list(value.items())))
        if items and draw(st.integers(0, 9)) == 9:
            items = [*items, (items[0][0], draw(JSON_VALUES))]  # a key again: the last counts
        space = draw(st.sampled_from(["", " "]))
        parts = []
        for key, item in items:
            name = json.dumps(key, ensure_ascii=draw(st.booleans()))
            if draw(st.integers(0, 19)) == 19 and len(key) > 1:
                name = f'"{key[0]}\\u{ord(key[1]):04x}{json.dumps(key[2:])[1:]}'
            parts.append(f"{name}:{space}{encode(item, draw)}")
        return "{" + f",{space}".join(parts) + "}"
    if isinstance(value, list):
        return "[" + ",".join(encode(item, draw) for item in value) + "]"
    return json.dumps(value, ensure_ascii=draw(st.booleans()))


@needs_msgspec
# 300 lines of generated JSON, most of them near misses: the suite's time budget (10 minutes
# on 2 cores) allows no more; a failure found is kept by hypothesis and tried first next time.
@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_fast_path_is_unsure_or_right_on_generated_lines(data: st.DataObject) -> None:
    line = encode(data.draw(assistant_records()), data.draw).encode()
    edits = data.draw(
        st.lists(
            st.tuples(
                st.integers(0, len(line)),
                st.binary(max_size=2) | st.sampled_from([bytes([c]) for c in b'09-.e"\\\\ {}[],:']),
                st.integers(0, 2),
            ),
            max_size=3,
        )
    )
    for at, new, gone in edits:  # now and then a few bytes replaced: mostly no longer JSON
        line = line[:at] + new + line[at + gone :]
    assert_fast_agrees(line)


@needs_msgspec
def test_fast_path_answers_for_ordinary_responses() -> None:
    # Most generated records are odd on purpose; an ordinary one must take the fast path.
    line = lines([assistant("m", usage(3, 4, five=5, hour=6, read=7), 1)]).rstrip()
    assert assert_fast_agrees(line) == (
        True,
        MODEL,
        stamp(1),
        T0 + timedelta(seconds=1),
        "m",
        "req_m",
        (3, 4, 5, 6, 7),
        None,
    )


@settings(max_examples=40, deadline=None)
@given(records=st.lists(assistant_records(), max_size=12))
def test_the_reader_counts_the_same_with_and_without_the_fast_path(
    records: list[dict[str, Any]],
) -> None:
    from agentmux.core.metrics import claude_response_counts

    with tempfile.TemporaryDirectory() as folder:
        data = lines([prompt("go", 0), *records, *[r | {"isSidechain": False} for r in records]])
        path = write(Path(folder) / "s.jsonl", INTERACTIVE.read_bytes() + data)
        fast = comparable(read_once(path))
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(claude_response_counts, "_FAST", None)
            slow = comparable(read_once(path))
    assert fast == slow


def test_the_rich_session_reads_the_same_without_the_fast_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from agentmux.core.metrics import claude_response_counts

    files = rich_session(tmp_path)
    fast = comparable(read_once(*files))
    monkeypatch.setattr(claude_response_counts, "_FAST", None)
    assert comparable(read_once(*files)) == fast


def test_reads_in_several_threads_at_once_share_no_buffer(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from agentmux.core.metrics import jsonl_reading

    files = rich_session(tmp_path)
    expected = comparable(read_once(*files))
    monkeypatch.setattr(jsonl_reading, "CHUNK", 512)  # many chunks, each a buffer refill
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda _: comparable(read_once(*files)), range(16)))
    assert all(result == expected for result in results)
