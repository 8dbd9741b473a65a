"""The state store: durable, private, safe under concurrent writers, clear when unreadable."""

from __future__ import annotations

import multiprocessing
import sqlite3
import time
import uuid
from pathlib import Path

import pytest

from agentmux.core.errors import AgentmuxError
from agentmux.core.records import SessionRecord, Status
from agentmux.core.state import SCHEMA_VERSION, StateStore


def make_record(name: str) -> SessionRecord:
    return SessionRecord(
        id=str(uuid.uuid4()),
        name=name,
        agent="demo",
        agent_kind="demo",
        agent_session_id=str(uuid.uuid4()),
        branch=f"agentmux/{name}",
        worktree=f"/wt/{name}",
        base_ref="main",
        base_commit="0" * 40,
        status=Status.QUEUED,
        created_at=time.time(),
    )


def writer(path: str, prefix: str, count: int) -> None:
    store = StateStore(Path(path))
    for n in range(count):
        record = make_record(f"{prefix}-{n}")
        store.insert_session(record, ["demo"], None)
        store.update_session(record.id, "started", {"n": n}, status=Status.RUNNING)
    store.close()


def test_files_are_private_and_wal_is_on(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "agentmux" / "state.db")
    assert oct(store.path.stat().st_mode & 0o777) == "0o600"
    assert oct(store.path.parent.stat().st_mode & 0o777) == "0o700"
    with sqlite3.connect(store.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_concurrent_processes_do_not_corrupt_or_lose_writes(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=writer, args=(str(path), f"p{i}", 25)) for i in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    store = StateStore(path)
    assert store.integrity() == "ok"
    assert len(store.sessions()) == 100
    assert all(r.status is Status.RUNNING for r in store.sessions())
    assert len(store.events()) == 200


def test_live_names_are_unique_but_history_keeps_removed(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    first = make_record("same")
    store.insert_session(first, ["demo"], None)
    with pytest.raises(AgentmuxError, match="already exists"):
        store.insert_session(make_record("same"), ["demo"], None)
    store.update_session(first.id, "removed", status=Status.REMOVED, removed_at=time.time())
    store.insert_session(make_record("same"), ["demo"], None)
    assert len(store.sessions(include_removed=True)) == 2
    assert len(store.sessions()) == 1


def test_prompt_is_claimed_once(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "state.db")
    record = make_record("p")
    store.insert_session(record, ["demo"], b"do it")
    assert store.session(record.id).prompt_pending
    assert store.claim_prompt(record.id) == b"do it"
    assert store.claim_prompt(record.id) is None
    assert not store.session(record.id).prompt_pending


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore(path).close()
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(AgentmuxError, match="newer agentmux"):
        StateStore(path)


def test_garbage_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    path.write_bytes(b"garbage" * 1000)
    with pytest.raises(AgentmuxError, match="unreadable"):
        StateStore(path)
    assert path.read_bytes() == b"garbage" * 1000
