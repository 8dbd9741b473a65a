"""`agentmux resume`: lost, exited and stopped sessions come back and continue the same
conversation (real tmux, real git, the demo agent, small scripts as custom agents)."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from agentmux.core.agents.events import claude_settings
from agentmux.core.agents.profiles import demo_transcript_root
from agentmux.core.records import Status
from agentmux.core.sessions.manager import SessionManager
from agentmux.core.sessions.resume import resumable, resume_sessions
from agentmux.demo_agent.transcript import transcript_path
from tests.conftest import CliResult, demo_transcript, git, screen, wait_for, write_config

Cli = Callable[..., CliResult]


def turns_ended(mgr: SessionManager, name: str, turns: int) -> Callable[[], bool]:
    def check() -> bool:
        ends = [r for r in demo_transcript(mgr, name) if r.get("subtype") == "turn_duration"]
        return len(ends) >= turns

    return check


def on_screen(mgr: SessionManager, name: str, text: str) -> Callable[[], bool]:
    def check() -> bool:
        record = mgr.get(name)
        if record.status is not Status.RUNNING or record.tmux_pane_id is None:
            return False
        found = mgr.tmux.capture_tagged(record.tmux_pane_id, record.id)
        return found is not None and text in found

    return check


def stopped(mgr: SessionManager, session_id: str, turns: int) -> Callable[[], bool]:
    """Whether the agent's Stop hook has reported ``turns`` turns."""

    def check() -> bool:
        hooks = mgr.store.events(session_id, kinds=("agent_event",))
        return len([e for e in hooks if e["data"]["event"] == "Stop"]) == turns

    return check


def prompts(records: list[dict[str, Any]]) -> list[str]:
    """The prompts typed into a demo conversation, from its transcript."""
    return [
        r["message"]["content"]
        for r in records
        if r["type"] == "user" and isinstance(r["message"]["content"], str)
    ]


def status_of(cli: Cli, name: str) -> str:
    rows = json.loads(cli("ls", "--json").out)
    return str(next(r["status"] for r in rows if r["name"] == name))


def resumed_events(mgr: SessionManager, name: str) -> list[dict[str, Any]]:
    return [e["data"] for e in mgr.store.events(mgr.get(name).id, kinds=("resumed",))]


# --- the same conversation goes on ----------------------------------------------------------


@pytest.mark.slow
def test_resume_all_after_the_tmux_server_dies_continues_the_same_conversation(
    repo: Path, manager: SessionManager, cli: Cli
) -> None:
    record = manager.create(agent="demo", name="a", prompt=b"first turn")
    wait_for(turns_ended(manager, "a", 1), what="first turn")
    manager.tmux.kill_server()
    assert status_of(cli, "a") == "lost"
    assert " lost " in cli("ls").out

    done = cli("resume", "--all")
    assert done.code == 0, done.err
    short = record.agent_session_id.split("-")[0]
    assert done.out.strip() == f"resumed a (same conversation {short})"
    assert manager.get("a").status is Status.RUNNING
    argv = manager.store.argv(record.id)
    assert argv[argv.index("--resume") + 1] == record.agent_session_id, "by its exact id"
    assert "--session-id" not in argv
    assert argv[argv.index("--settings") + 1] == claude_settings(), "the same hooks as a start"
    wait_for(
        on_screen(manager, "a", f"resumed conversation {record.agent_session_id} · 1 earlier"),
        what="the demo agent saying it resumed",
    )

    sent = cli("send", "a", "second turn")
    assert sent.code == 0, sent.err
    wait_for(turns_ended(manager, "a", 2), what="second turn")
    # One file holds both turns, chained, the earlier one untouched.
    folder = transcript_path(demo_transcript_root(), record.worktree, "x").parent
    assert [p.name for p in folder.glob("*.jsonl")] == [f"{record.agent_session_id}.jsonl"]
    records = demo_transcript(manager, "a")
    assert prompts(records) == ["first turn", "second turn"]
    assert [r["parentUuid"] for r in records[1:]] == [r["uuid"] for r in records[:-1]]
    assert {r["sessionId"] for r in records} == {record.agent_session_id}

    [event] = resumed_events(manager, "a")
    assert event["from"] == "lost"
    assert event["mode"] == "continue"
    assert event["conversation_id"] == record.agent_session_id


@pytest.mark.slow
def test_cost_counts_a_resumed_session_once_in_one_row(
    repo: Path, manager: SessionManager, cli: Cli
) -> None:
    record = manager.create(agent="demo", name="c", prompt=b"write one.txt 1")
    wait_for(stopped(manager, record.id, 1), what="the first turn's Stop hook")
    manager.tmux.kill_server()
    manager.reconcile()
    time.sleep(1.0)  # the time between the loss and the resume is not wall time
    assert cli("resume", "c").code == 0
    wait_for(on_screen(manager, "c", "demo ❯"), what="resumed agent ready")
    assert cli("send", "c", "tell me more").code == 0
    wait_for(turns_ended(manager, "c", 2), what="second turn")

    wait_for(stopped(manager, record.id, 2), what="the second turn's Stop hook")
    before = time.time()
    report = json.loads(cli("cost", "--json").out)
    after = time.time()
    [row] = report["sessions"]
    assert row["name"] == "c"
    assert row["resumes"] == 1

    # Independent source: the transcript file itself, each response counted once (its last line).
    path = transcript_path(demo_transcript_root(), record.worktree, record.agent_session_id)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    final: dict[str, dict[str, int]] = {}
    for line in lines:
        if line["type"] == "assistant":
            final[line["message"]["id"]] = line["message"]["usage"]
    assert len(final) == 2
    assert row["tokens"]["input"] == sum(u["input_tokens"] for u in final.values())
    assert row["tokens"]["output"] == sum(u["output_tokens"] for u in final.values())
    assert row["tokens"]["cache_read"] == sum(u["cache_read_input_tokens"] for u in final.values())
    assert row["tokens"]["cache_write_5m"] == sum(
        u["cache_creation_input_tokens"] for u in final.values()
    )
    # The resumed conversation's turns go on counting: turn 2 reads turn 1 from the cache.
    assert [u["cache_read_input_tokens"] for u in final.values()] == [0, 1000]
    # Two turns; the loss is a failure kept across the resume, but it cut no turn short, so no
    # failed turn (agentmux.core.metrics.run_turns).
    assert [f["kind"] for f in row["failures"]] == ["exit"]
    assert row["turns"] == len(prompts(lines)) == 2
    assert row["failed_turns"] == 0

    # Queue wait: one sample per start, each from the state store's own event times.
    events = manager.store.events(record.id)
    starts = [e for e in events if e["kind"] == "started"]
    assert row["queue_wait_seconds"]["count"] == len(starts) == 2
    resumed = next(e for e in events if e["kind"] == "resumed")
    assert row["queue_wait_seconds"]["p95"] == pytest.approx(
        max(starts[1]["ts"] - resumed["ts"], starts[0]["ts"] - record.created_at), abs=0.05
    )
    # Wall time: both runs, not the time between them (by the store's event times).
    lost_at = next(e for e in events if e["kind"] == "lost")["ts"]
    first_run = lost_at - starts[0]["ts"]
    assert first_run > 0
    assert first_run + before - starts[1]["ts"] - 0.05 <= row["wall_seconds"]
    assert row["wall_seconds"] <= first_run + after - starts[1]["ts"] + 0.05
    # Waiting on you: idle after each turn while the agent ran, not while it was gone.
    stops = [e["ts"] for e in events if e["kind"] == "agent_event" and e["data"]["event"] == "Stop"]
    assert len(stops) == 2
    waited = row["waiting_on_you_seconds"]["total"]
    assert lost_at - stops[0] + before - stops[1] - 0.05 <= waited
    assert waited <= lost_at - stops[0] + after - stops[1] + 0.05


@pytest.mark.slow
def test_an_exited_and_a_stopped_session_resume(
    repo: Path, manager: SessionManager, cli: Cli
) -> None:
    quits = manager.create(agent="demo", name="quits", prompt=b"exit 3")
    stops = manager.create(agent="demo", name="stops", prompt=b"hello")
    wait_for(turns_ended(manager, "stops", 1), what="stops' turn")
    wait_for(lambda: status_of(cli, "quits") == "exited", what="quits exiting")
    assert cli("stop", "stops").code == 0
    listing = cli("ls").out
    assert "exited (status 3)" in listing and "stopped (signal 15)" in listing

    done = cli("resume", "quits", "stops")
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        f"resumed quits (same conversation {quits.agent_session_id.split('-')[0]})",
        f"resumed stops (same conversation {stops.agent_session_id.split('-')[0]})",
    ]
    for name in ("quits", "stops"):
        assert manager.get(name).status is Status.RUNNING
        wait_for(on_screen(manager, name, "1 earlier turn"), what=f"{name} resumed")
    assert [e["from"] for e in resumed_events(manager, "quits")] == ["exited"]
    assert [e["from"] for e in resumed_events(manager, "stops")] == ["stopped"]
    fresh = manager.get("quits")
    assert fresh.exit_status is None and fresh.ended_at is None, "the record is the new run's"
    assert cli("send", "stops", "and again").code == 0
    wait_for(turns_ended(manager, "stops", 2), what="stops' second turn")
    assert prompts(demo_transcript(manager, "stops")) == ["hello", "and again"]


@pytest.mark.slow
def test_a_prompt_held_when_the_agent_was_lost_mid_turn_is_typed_once_it_resumes(
    repo: Path, manager: SessionManager, cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    record = manager.create(agent="demo", name="h", prompt=b"sleep 60")

    def working() -> bool:
        event = manager.store.last_event(record.id, "agent_event")
        return event is not None and event["data"]["event"] == "UserPromptSubmit"

    wait_for(working, what="the agent in its turn")
    held = cli("send", "h", "write held.txt yes")
    assert held.code == 0 and "held" in held.err, held.err
    manager.tmux.kill_server()  # mid-turn: its Stop hook never comes
    # The resumed agent reports nothing for a while: the old run's turn is over all the same.
    monkeypatch.setenv("AGENTMUX_DEMO_START_DELAY", "3")
    assert cli("resume", "h").code == 0
    worktree = Path(record.worktree)
    wait_for(lambda: (worktree / "held.txt").exists(), timeout=30, what="the held prompt typed")
    assert prompts(demo_transcript(manager, "h")) == ["sleep 60", "write held.txt yes"]


@pytest.mark.slow
def test_a_session_without_a_conversation_yet_starts_fresh_with_the_same_id(
    repo: Path, manager: SessionManager, cli: Cli
) -> None:
    record = manager.create(agent="demo", name="idle")
    manager.stop("idle")
    git(Path(record.worktree), "checkout", "--quiet", "-b", "elsewhere")  # never undone by resume
    done = cli("resume", "idle")
    assert done.code == 0, done.err
    assert done.out.strip() == (
        "idle restarted fresh: its agent had not begun a conversation yet; "
        "its worktree is on branch elsewhere, not agentmux/idle"
    )
    assert git(Path(record.worktree), "branch", "--show-current") == "elsewhere"
    argv = manager.store.argv(record.id)
    assert argv[argv.index("--session-id") + 1] == record.agent_session_id
    assert "--resume" not in argv
    assert resumed_events(manager, "idle")[0]["mode"] == "fresh"


# --- max_sessions ---------------------------------------------------------------------------


@pytest.mark.slow
def test_resume_past_max_sessions_queues_and_starts_when_a_slot_frees(repo: Path, cli: Cli) -> None:
    write_config(repo, "max_sessions = 1\n")
    mgr = SessionManager.open(repo)
    first = mgr.create(agent="demo", name="first", prompt=b"hello")
    wait_for(turns_ended(mgr, "first", 1), what="first's turn")
    mgr.stop("first")
    mgr.create(agent="demo", name="other")

    done = cli("resume", "first", "--json")
    assert done.code == 0, done.err
    [row] = json.loads(done.out)
    assert row["outcome"] == "queued"
    assert row["message"] == "queued first: no free slot (max_sessions = 1)"
    assert row["status"] == "queued"
    assert mgr.get("first").status is Status.QUEUED
    assert mgr.get("first").queued_at is not None

    time.sleep(0.5)
    assert cli("stop", "other").code == 0  # frees the slot: the queue's drain starts it
    assert mgr.get("first").status is Status.RUNNING
    wait_for(
        on_screen(mgr, "first", f"resumed conversation {first.agent_session_id}"),
        what="the queued resume starting with its conversation",
    )
    events = mgr.store.events(first.id)
    resumed = next(e for e in events if e["kind"] == "resumed")
    started = [e for e in events if e["kind"] == "started"][-1]
    assert started["data"]["queue_wait"] >= 0.5
    assert started["data"]["queue_wait"] == pytest.approx(started["ts"] - resumed["ts"], abs=0.05)
    mgr.close()


# --- custom agents --------------------------------------------------------------------------

AGENT_SCRIPT = 'printf "%s %s\\n" "$1" "$2" >> "$3"\nexec sleep 600\n'


def custom_agents(repo: Path, tmp_path: Path) -> Path:
    script = tmp_path / "agent.sh"
    script.write_text(AGENT_SCRIPT)
    log = tmp_path / "agent.log"
    write_config(
        repo,
        "[agents.keeps]\n"
        f'command = ["sh", "{script}", "start", "{{session_id}}", "{log}"]\n'
        f'resume = ["sh", "{script}", "resume", "{{session_id}}", "{log}"]\n'
        "[agents.forgets]\n"
        f'command = ["sh", "{script}", "start", "forgets", "{log}"]\n',
    )
    return log


def log_lines(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


@pytest.mark.slow
def test_a_custom_agent_resumes_with_its_resume_command_and_one_without_starts_fresh(
    repo: Path, tmp_path: Path, cli: Cli
) -> None:
    log = custom_agents(repo, tmp_path)
    mgr = SessionManager.open(repo)
    keeps = mgr.create(agent="keeps", name="keeps")
    mgr.create(agent="forgets", name="forgets")
    wait_for(lambda: len(log_lines(log)) == 2, what="both agents started")
    assert f"start {keeps.agent_session_id}" in log_lines(log), "{session_id} in the command"
    mgr.stop("keeps")
    mgr.stop("forgets")

    done = cli("resume", "--all")
    assert done.code == 0, done.err
    assert done.out.splitlines() == [
        f"resumed keeps (same conversation {keeps.agent_session_id.split('-')[0]})",
        "forgets restarted fresh: agent 'forgets' has no resume command",
    ]
    wait_for(lambda: len(log_lines(log)) == 4, what="both agents started again")
    assert sorted(log_lines(log)[2:]) == sorted(
        [f"resume {keeps.agent_session_id}", "start forgets"]
    )
    assert [e["mode"] for e in resumed_events(mgr, "forgets")] == ["fresh"]
    assert [e["conversation_id"] for e in resumed_events(mgr, "keeps")] == [keeps.agent_session_id]
    mgr.close()


def test_resume_of_an_agent_from_a_config_no_longer_trusted_is_refused(
    repo: Path, tmp_path: Path, cli: Cli
) -> None:
    log = custom_agents(repo, tmp_path)
    mgr = SessionManager.open(repo)
    mgr.create(agent="keeps", name="keeps")
    mgr.stop("keeps")
    mgr.close()
    # The file changes (a pull, say): its `resume` is a command like any other, untrusted now.
    (repo / "agentmux.toml").write_text(
        (repo / "agentmux.toml").read_text().replace('"resume"', '"pwned"')
    )
    done = cli("resume", "keeps")
    assert done.code == 1
    lines = [line for line in done.err.splitlines() if "keeps cannot be resumed" in line]
    assert len(lines) == 1
    assert "which you have not trusted" in lines[0] and "agentmux trust" in lines[0]
    assert all("pwned" not in line for line in log_lines(log))
    assert status_of(cli, "keeps") == "stopped"


# --- refusals -------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_session_whose_worktree_is_gone_is_refused_naming_its_branch(
    repo: Path, manager: SessionManager, cli: Cli
) -> None:
    record = manager.create(agent="demo", name="gone")
    manager.stop("gone")
    shutil.rmtree(record.worktree)
    done = cli("resume", "gone")
    assert done.code == 1
    assert done.out == ""
    assert done.err.strip() == (
        f"agentmux: gone cannot be resumed: its worktree {record.worktree} is gone "
        "(its work is on branch agentmux/gone)."
    )
    assert status_of(cli, "gone") == "stopped", "nothing changed"


@pytest.mark.slow
def test_bad_inputs_each_get_one_sentence(repo: Path, manager: SessionManager, cli: Cli) -> None:
    manager.create(agent="demo", name="busy")
    manager.create(agent="demo", name="done")
    manager.stop("done")
    assert cli("rm", "--force", "done").code == 0
    archive = manager.sessions(include_removed=True)[-1].archive_ref
    assert archive is not None

    done = cli("resume", "busy", "nope", "done")
    assert done.code == 1
    assert done.out == ""
    sentences = [
        "busy is already running.",
        "there is no session named 'nope' (see `agentmux ls`).",
        f"done was removed; its work is kept on {archive}: there is nothing to resume "
        "(start a new session with `agentmux new`).",
    ]
    assert done.err.splitlines() == [f"agentmux: {s}" for s in sentences]
    as_json = cli("resume", "busy", "nope", "done", "--json")
    assert as_json.code == 1
    assert [(r["outcome"], r["message"]) for r in json.loads(as_json.out)] == [
        ("refused", s) for s in sentences
    ]
    assert as_json.err == done.err
    assert manager.get("busy").status is Status.RUNNING

    for args, text in (
        ((), "name the sessions to resume, or give --all"),
        (("busy", "--all"), "name the sessions to resume, or give --all"),
        (("bad/name",), "bad/name"),
    ):
        result = cli("resume", *args)
        assert result.code != 0, args
        [line] = result.err.splitlines()
        assert line.startswith("agentmux: ") and text in line, line

    nothing = cli("resume", "--all")
    assert nothing.code == 0
    assert nothing.out.strip() == "nothing to resume: no session is lost, exited or stopped"


def test_a_running_session_is_not_resumable_and_the_api_refuses_it(
    repo: Path, manager: SessionManager
) -> None:
    manager.create(agent="demo", name="live")
    record = manager.get("live")
    assert not resumable(record)
    [outcome] = resume_sessions(manager, ["live"])
    assert (outcome.name, outcome.outcome, outcome.message) == (
        "live",
        "refused",
        "live is already running.",
    )
    assert resume_sessions(manager, None) == []
    assert screen(manager, "live")
