"""Token totals agree with ccusage 20.0.24 (npm ``ccusage``, native binary) on the same files.

ccusage is pinned in ``tests/npm_tools.py``. It runs with ``--offline`` (its cached prices; it
would otherwise fetch a price list) and, where this machine allows, inside a network namespace
with no network at all (``unshare -n``). Only token totals are compared: ccusage prices from its
own data, agentmux from genai-prices.

Two documented differences, where agentmux is right and ccusage is not:

- Claude: ccusage counts cache writes as the sum of the ``cache_creation`` TTL split whenever
  that object is present, even when it is all zeros while ``cache_creation_input_tokens`` (the
  billed total) is not. The 2.1.197 interactive fixture, made against a fake API, has exactly
  that (200 written, split 0/0, five times): ccusage says 0 cache-write tokens, agentmux 1,000.
  With the real API the total and the split agree, and so do both tools.
- Codex: when ``last_token_usage`` disagrees with the growth of ``total_token_usage`` (an event
  missing in between), ccusage sums ``last_token_usage``; agentmux counts the growth of the
  running total, Codex's own account of what the session spent.

ccusage also reads only compact JSON lines (as the CLIs write them): the fixtures under
``tests/fixtures`` were re-serialised with spaces after colons, so they are compacted first.

On every real-CLI fixture under ``tests/fixtures/real`` (Claude Code 2.1.330, Codex 0.169.0) the
two agree exactly, as they do on generated sessions with streamed duplicates, sidechain replays,
subagent files, re-emitted Codex totals and a new Codex process.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.metrics.claude_transcript_reader import ClaudeSessionReader
from agentmux.core.metrics.codex_rollouts import CodexRolloutReader, find_rollout
from agentmux.core.metrics.usage import TokenUsage
from tests.core.metrics.test_claude_transcripts import (
    api_error,
    assistant,
    interrupted,
    lines,
    prompt,
    tool_result,
    usage,
)
from tests.core.metrics.test_codex_rollouts import context, count, event, meta, tokens
from tests.core.metrics.test_codex_rollouts import lines as codex_lines
from tests.npm_tools import PINNED, NpmToolError, npm_tool, unavailable

FIXTURES = Path(__file__).parents[2] / "fixtures"
CCUSAGE_VERSION = PINNED["ccusage"][1]


@pytest.fixture(scope="module")
def ccusage() -> Path:
    """The pinned ccusage, installed on first use."""
    try:
        exe = npm_tool("ccusage")
    except NpmToolError as exc:
        unavailable(str(exc))
        raise
    version = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert version.stdout.strip() == f"ccusage {CCUSAGE_VERSION}", version.stderr
    return exe


def no_network_prefix() -> list[str]:
    """``unshare -n`` if this machine lets us run a program without any network."""
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    return [unshare, "-n"] if probe.returncode == 0 else []


def run_ccusage(
    exe: Path,
    home: Path,
    *args: str,
    claude: Path | None = None,
    codex: Path | None = None,
) -> dict[str, Any]:
    """``ccusage ARGS --json --offline`` with ``home`` as HOME and the Claude and Codex data in
    ``claude`` and ``codex`` (default: ``home/claude`` and ``home/codex``)."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CLAUDE_CONFIG_DIR": str(claude or home / "claude"),
        "CODEX_HOME": str(codex or home / "codex"),
        "TZ": "UTC",
        "NO_COLOR": "1",
    }
    done = subprocess.run(
        [*no_network_prefix(), str(exe), *args, "--json", "--offline"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def compact(data: bytes) -> bytes:
    """JSON lines re-serialised without spaces, as the CLIs write them."""
    return b"".join(
        json.dumps(json.loads(line), separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        for line in data.splitlines()
        if line.strip()
    )


def claude_session(home: Path, session: str, main: bytes, subagents: dict[str, bytes]) -> None:
    """Lay out one Claude session under ``home/claude``."""
    folder = home / "claude" / "projects" / "-work-repo"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f"{session}.jsonl").write_bytes(main)
    for name, data in subagents.items():
        sub = folder / session / "subagents" / name
        sub.parent.mkdir(parents=True, exist_ok=True)
        sub.write_bytes(data)


def busy_session(seed: int) -> tuple[bytes, dict[str, bytes]]:
    """A realistic session: streamed duplicates, tool results, errors, a subagent replaying."""
    records: list[dict[str, Any]] = []
    sub: list[dict[str, Any]] = []
    at = 0.0
    for turn in range(12):
        at += 5
        records.append(prompt(f"task {seed}/{turn}", at))
        for step in range(3):
            mid = f"msg_{seed}_{turn}_{step}"
            five, hour = (seed * 37 + turn * 11) % 900, (turn * 53) % 400
            final = usage(
                3 + turn, 40 + step * 17 + seed, five=five, hour=hour, read=1000 * turn + step
            )
            placeholder = {**final, "output_tokens": 1}
            records.append(assistant(mid, placeholder, at + 0.1))
            records.append(assistant(mid, final, at + 0.2))
            records.append(tool_result("output line\n" * (50 + step), at + 0.3))
            if turn % 4 == 1 and step == 0:
                sub.append(prompt("subtask", at + 0.4, sidechain=True))
                sub.append(
                    assistant(mid, {**final, "output_tokens": 999}, at + 0.4, sidechain=True)
                )
                sub.append(
                    assistant(
                        f"sub_{mid}", usage(7, 70, five=30, read=300), at + 0.5, sidechain=True
                    )
                )
                sub.append(
                    assistant(
                        f"sub_{mid}", usage(7, 1, five=30, read=300), at + 0.5, sidechain=True
                    )
                )
            at += 1
        if turn % 5 == 2:
            records.append(api_error("API Error: 529 Overloaded.", at + 0.6))
        if turn % 6 == 3:
            records.append(interrupted(at + 0.7))
    return lines(records), {"agent-a1b2.jsonl": lines(sub)}


def ours_claude(home: Path, session: str) -> TokenUsage:
    """agentmux's total for one Claude session."""
    reader = ClaudeSessionReader(session, home / "claude")
    reader.update()
    return reader.snapshot().total


def as_ccusage(u: TokenUsage) -> dict[str, int]:
    """agentmux's usage in ccusage's terms."""
    return {
        "inputTokens": u.input,
        "outputTokens": u.output,
        "cacheCreationTokens": u.cache_write,
        "cacheReadTokens": u.cache_read,
    }


def theirs(row: dict[str, Any]) -> dict[str, int]:
    """A ccusage session row's token totals."""
    return {
        key: row[key]
        for key in ("inputTokens", "outputTokens", "cacheCreationTokens", "cacheReadTokens")
    }


def test_claude_totals_agree_with_ccusage(ccusage: Path, tmp_path: Path) -> None:
    sessions = {f"00000000-0000-4000-8000-00000000000{n}": busy_session(n) for n in range(1, 5)}
    for session, (main, subs) in sessions.items():
        claude_session(tmp_path, session, main, subs)
    printed = "7c80e510-219f-4190-a4cd-91555a167426"
    claude_session(
        tmp_path, printed, compact((FIXTURES / "claude-code-2.1.197-print.jsonl").read_bytes()), {}
    )
    report = run_ccusage(ccusage, tmp_path, "claude", "session")
    rows = {row["sessionId"]: row for row in report["sessions"]}
    assert set(rows) == {*sessions, printed}
    for session, row in rows.items():
        assert theirs(row) == as_ccusage(ours_claude(tmp_path, session)), session
    assert ours_claude(tmp_path, printed) == TokenUsage(input=123, output=42)


def test_claude_cache_write_difference_on_an_inconsistent_split(
    ccusage: Path, tmp_path: Path
) -> None:
    session = "1450ad12-6733-47f0-ab5a-03eec6b1a55d"
    data = compact((FIXTURES / "claude-code-2.1.197-interactive.jsonl").read_bytes())
    claude_session(tmp_path, session, data, {})
    (row,) = run_ccusage(ccusage, tmp_path, "claude", "session")["sessions"]
    ours = ours_claude(tmp_path, session)
    # Agreement on everything but cache writes ...
    assert (
        (row["inputTokens"], row["outputTokens"], row["cacheReadTokens"])
        == (ours.input, ours.output, ours.cache_read)
        == (5000, 500, 2500)
    )
    # ... where each of the five responses says cache_creation_input_tokens=200 with a 0/0
    # split: billed 200 each (agentmux), not 0 (ccusage's sum of the split).
    assert (row["cacheCreationTokens"], ours.cache_write) == (0, 1000)
    for line in data.splitlines():
        record = json.loads(line)
        if record.get("type") == "assistant" and record["message"]["model"] != "<synthetic>":
            raw = record["message"]["usage"]
            split = raw["cache_creation"]
            assert raw["cache_creation_input_tokens"] == 200
            assert split["ephemeral_5m_input_tokens"] + split["ephemeral_1h_input_tokens"] == 0


def codex_rollout(home: Path, sid: str, records: list[dict[str, Any]], clock: str) -> Path:
    """Lay out one Codex rollout under ``home/codex``."""
    folder = home / "codex" / "sessions" / "2026" / "11" / "21"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"rollout-2026-11-21T{clock}-{sid}.jsonl"
    path.write_bytes(codex_lines(records))
    return path


def busy_rollout(seed: int) -> list[dict[str, Any]]:
    """A realistic rollout: re-emitted totals, a model change, cache writes, a new process."""
    records: list[dict[str, Any]] = [meta(0, f"sid-{seed}"), context("gpt-5")]
    total = [0, 0, 0, 0, 0]
    at = 1.0
    for turn in range(10):
        records.append(event("task_started", at, turn_id=f"t{turn}"))
        if turn == 5:
            records.append(context("gpt-5-codex", at))
        if turn == 7:
            total = [0, 0, 0, 0, 0]  # resumed in a new process
        for step in range(3):
            grow = [900 + 100 * step + seed, 400 + 10 * turn, (turn * 7) % 50, 60 + step, 20]
            total = [a + b for a, b in zip(total, grow, strict=True)]
            now = tokens(total[0], total[1], total[3], total[4], total[2])
            last = tokens(grow[0], grow[1], grow[3], grow[4], grow[2])
            records.append(count(now, last, at))
            records.append(count(now, last, at + 0.1))  # re-emitted unchanged
            at += 1
        records.append(event("task_complete", at, turn_id=f"t{turn}"))
    return records


def test_codex_totals_agree_with_ccusage(ccusage: Path, tmp_path: Path) -> None:
    paths = {
        f"sid-{n}": codex_rollout(tmp_path, f"sid-{n}", busy_rollout(n), f"09-0{n}-00")
        for n in range(1, 4)
    }
    fixture = FIXTURES / "codex-0.169.0-exec-rollout.jsonl"
    fixture_id = "01a1fe08-095f-76f1-a14c-5e56cf586036"
    target = tmp_path / "codex" / "sessions" / "2026" / "11" / "21"
    paths[fixture_id] = target / f"rollout-2026-11-21T12-15-02-{fixture_id}.jsonl"
    paths[fixture_id].write_bytes(compact(fixture.read_bytes()))
    report = run_ccusage(ccusage, tmp_path, "codex", "session")
    rows = {row["sessionFile"]: row for row in report["sessions"]}
    assert set(rows) == {path.stem for path in paths.values()}
    for path in paths.values():
        reader = CodexRolloutReader(path)
        reader.update()
        snap = reader.snapshot()
        assert theirs(rows[path.stem]) == as_ccusage(snap.total), path.name
        models = rows[path.stem]["models"]
        assert set(models) == set(snap.by_model)
        for model, usage_of_model in snap.by_model.items():
            assert models[model]["inputTokens"] == usage_of_model.input
            assert models[model]["outputTokens"] == usage_of_model.output


def test_codex_difference_when_last_usage_disagrees(ccusage: Path, tmp_path: Path) -> None:
    records = [
        meta(0, "sid-x"),
        context("gpt-5"),
        count(tokens(100, 20, 10), tokens(100, 20, 10), 1),
        count(tokens(300, 40, 20), tokens(150, 10, 5), 2),  # 50 input unaccounted by "last"
    ]
    path = codex_rollout(tmp_path, "sid-x", records, "09-00-00")
    (row,) = run_ccusage(ccusage, tmp_path, "codex", "session")["sessions"]
    reader = CodexRolloutReader(path)
    reader.update()
    # ccusage: 100 + 150 input (30 cached); agentmux: the running total's 300 (40 cached).
    assert (row["inputTokens"], row["cacheReadTokens"], row["outputTokens"]) == (220, 30, 15)
    assert reader.snapshot().total == TokenUsage(input=260, output=20, cache_read=40)


REAL = FIXTURES / "real"


@pytest.mark.parametrize(
    "scenario",
    sorted(path.parent for path in REAL.glob("*/*/expected.json")),
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_real_cli_fixtures_agree_with_ccusage(ccusage: Path, scenario: Path) -> None:
    expected = json.loads((scenario / "expected.json").read_text())
    (session,) = expected["session_ids"]
    claude = expected["cli"] == "claude-code"
    env_home = scenario.parent / "no-such-home"
    report = run_ccusage_at(ccusage, scenario, env_home, "claude" if claude else "codex")
    (row,) = report["sessions"]
    if claude:
        ours = ours_claude_at(scenario, session)
    else:
        path = find_rollout(session_id=session, home=scenario)
        assert path is not None
        reader = CodexRolloutReader(path)
        reader.update()
        ours = reader.snapshot().total
    assert theirs(row) == as_ccusage(ours)


def run_ccusage_at(exe: Path, data: Path, home: Path, agent: str) -> dict[str, Any]:
    """``ccusage AGENT session`` with ``data`` as the CLI's config dir (read only)."""
    return run_ccusage(exe, home, agent, "session", claude=data, codex=data)


def ours_claude_at(config: Path, session: str) -> TokenUsage:
    """agentmux's total for one Claude session under ``config``."""
    reader = ClaudeSessionReader(session, config)
    reader.update()
    return reader.snapshot().total
