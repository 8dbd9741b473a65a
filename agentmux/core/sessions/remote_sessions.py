"""Sessions on other hosts, beside the local ones: made, listed, typed into, stopped and removed
through each host's own agentmux (:class:`~agentmux.core.host.remote.agentmux.RemoteAgentmux`).

The host owns its sessions; this repository's state store keeps what was last heard of each (its
``ls --json`` row), so a session whose host is down is listed as ``unreachable``: never lost,
never forgotten. Names are one namespace across hosts: ``send NAME`` finds the session wherever
it runs. Each session's branch is fetched into ``refs/agentmux/hosts/<host>/heads/...`` when it is
made, listed or removed, so its commits are reachable here even when the host goes away.
"""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Literal

from agentmux.core.agents.profiles import resolve_profile
from agentmux.core.config.hosts import get_host
from agentmux.core.errors import AgentmuxError
from agentmux.core.events import SessionCreated
from agentmux.core.git import repo as git
from agentmux.core.git.reachability import ref_tips
from agentmux.core.host import Snapshot
from agentmux.core.host.remote.agentmux import RemoteAgentmux
from agentmux.core.host.ssh import SshError, SshFault, SshPool
from agentmux.core.records import SessionRecord, Status, host_ref, record_from_json
from agentmux.core.sessions.names import next_free_name, validate_name
from agentmux.core.state import RemoteRow, RemoteUpdate

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager
    from agentmux.core.sessions.resume import ResumeOutcome

#: The key of a stored row that holds the base branch here (the host only knows a commit).
LOCAL_BASE_REF = "local_base_ref"


def clone_key(manager: SessionManager) -> str:
    """What names this repository's clone on a host: the repository's directory name and a hash
    of this machine's name and the repository's path (two laptops never share a clone)."""
    place = f"{socket.gethostname()}:{manager.repo.common_dir}".encode()
    stem = "".join(c if c.isalnum() or c in "-_" else "-" for c in manager.repo.root.name)
    return f"{stem[:40] or 'repo'}-{hashlib.sha256(place).hexdigest()[:12]}"


def remote_record(row: RemoteRow) -> SessionRecord | None:
    """The session as last heard of (``unreachable`` while its host is not reached); None when
    the stored row cannot be read."""
    try:
        record = record_from_json(row.row, row.host)
    except (KeyError, ValueError, TypeError):
        return None
    # The host made it from a pushed commit; here it belongs to the base branch it came from.
    base_ref = row.row.get(LOCAL_BASE_REF)
    if isinstance(base_ref, str) and base_ref:
        record = replace(record, base_ref=base_ref)
    if row.removed_at is not None:
        return replace(record, status=Status.REMOVED)
    if not row.reachable and record.status is not Status.REMOVED:
        return replace(record, status=Status.UNREACHABLE)
    return record


def _same_but_idle(stored: dict[str, Any], heard: dict[str, Any]) -> bool:
    """Whether a host's answer says nothing new but how long the agent has been quiet."""
    return {**stored, "idle_seconds": None} == {**heard, "idle_seconds": None}


class RemoteSessions:
    """The sessions of one :class:`SessionManager`'s repository that run on other hosts."""

    def __init__(self, manager: SessionManager, pool: SshPool | None = None) -> None:
        self.manager = manager
        self.pool = pool or SshPool()
        self._hosts: dict[str, RemoteAgentmux] = {}
        self._sockets: dict[tuple[str, str], str] = {}
        self._asked = float("-inf")
        self._asking = threading.Lock()
        #: Why each host that was not reached in the last refresh was not (one sentence each).
        self.problems: dict[str, str] = {}
        #: Each session's row as its host last answered in this process (its idle time is
        #: fresh here; the store keeps the row as of its last change).
        self.heard: dict[str, dict[str, Any]] = {}

    def host(self, name: str) -> RemoteAgentmux:
        """Host ``name``'s agentmux (from the user's hosts; one sentence when unknown)."""
        found = self._hosts.get(name)
        if found is None:
            entry = get_host(name)
            found = RemoteAgentmux(name, entry, self.pool.connection(name, entry))
            self._hosts[name] = found
        return found

    # --- queries --------------------------------------------------------------------------------

    def rows(self, include_removed: bool = False) -> list[RemoteRow]:
        """What was last heard of each session on another host."""
        return self.manager.store.remote_sessions(include_removed)

    def records(self, include_removed: bool = False) -> list[SessionRecord]:
        """Those sessions as records (``unreachable`` when their host was not reached)."""
        found = (remote_record(row) for row in self.rows(include_removed))
        return [record for record in found if record is not None]

    def by_clone(self, include_removed: bool = False) -> dict[tuple[str, str], list[RemoteRow]]:
        """The sessions on other hosts grouped by host and clone: one agentmux verb each."""
        groups: dict[tuple[str, str], list[RemoteRow]] = {}
        for row in self.rows(include_removed):
            groups.setdefault((row.host, row.clone), []).append(row)
        return groups

    def find(self, name: str) -> RemoteRow | None:
        """The live session on another host called ``name``, if there is one."""
        return self.manager.store.remote_by_name(name)

    def taken_names(self) -> set[str]:
        """Names live sessions on other hosts hold (a local session may not take them)."""
        return {row.name for row in self.rows()}

    # --- lifecycle ------------------------------------------------------------------------------

    def create(
        self,
        host: str,
        *,
        agent: str | None = None,
        name: str | None = None,
        base: str | None = None,
        prompt: bytes | None = None,
        budget: Decimal | None = None,
    ) -> SessionRecord:
        """Start a session on ``host``: push the base commit into the host's clone, have the
        host's agentmux make the session, remember it, and fetch its branch."""
        m = self.manager
        m.writable("start sessions")
        if not git.has_commits(m.repo):
            raise AgentmuxError(
                "the repository has no commits yet; make a first commit, then retry."
            )
        remote = self.host(host)
        with m.locked():
            taken = {r.name for r in m.store.sessions()} | self.taken_names()
            prefix = agent or resolve_profile(m.config, None).name
            name = validate_name(name if name is not None else next_free_name(prefix, taken))
            if name in taken:
                raise AgentmuxError(f"a session named {name!r} already exists.")
            base_ref = base if base is not None else git.current_branch(m.repo) or "HEAD"
            base_commit = git.resolve_commit(m.repo, base_ref)
            clone = remote.prepare_clone(clone_key(m))
            remote.push_base(m.repo, clone, base_commit)
            args = ["new", "--json", "--name", name, "--base", base_commit]
            if agent is not None:
                args += ["--agent", agent]
            if budget is not None:
                args += ["--budget", str(budget)]
            if prompt is not None:
                args.append("-")
            try:
                row: dict[str, Any] = remote.json(clone, *args, input=prompt)
            except SshError as exc:
                # The host's `new` waits there for its agent to be ready before it types the
                # prompt (Claude Code at a trust question: its whole ready_timeout), longer than
                # a command over ssh may take: the session it made is found by its name, never
                # left running there unknown here.
                found = made_there(remote, clone, name) if exc.fault is SshFault.TIMEOUT else None
                if found is None:
                    raise
                row = found
            row[LOCAL_BASE_REF] = base_ref
            m.store.insert_remote(host, clone, row)
        record = record_from_json(row, host)
        m.emit(SessionCreated(record.name, record.id, record.branch, record.worktree))
        self._fetch_quietly(remote, clone, [f"refs/heads/{record.branch}"])
        return record

    def refresh(self, *, fetch: bool = True) -> list[SessionRecord]:
        """Ask every host with live sessions here how they are (one ``ls`` each, side by side),
        and fetch their branches (unless not ``fetch``: the TUI's frequent look); a host not
        reached marks its sessions unreachable. Returns the live records."""
        groups = self.by_clone()
        if groups:
            with ThreadPoolExecutor(max_workers=min(8, len(groups))) as pool:
                list(pool.map(lambda item: self._refresh_one(*item, fetch=fetch), groups.items()))
        return self.records()

    def recent(self, max_age: float) -> list[SessionRecord]:
        """The live sessions on other hosts as last heard of, the TUI's look: when that is older
        than ``max_age`` seconds the hosts are asked again (without fetching) on a thread of
        their own, so a host that takes its ``ConnectTimeout`` to fail never holds up the local
        sessions' updates. The first look waits for the answer."""
        if not self.rows():
            return []
        if time.monotonic() - self._asked >= max_age and self._asking.acquire(blocking=False):
            first = self._asked == float("-inf")
            self._asked = time.monotonic()
            asking = threading.Thread(target=self._ask_hosts, name="agentmux-hosts", daemon=True)
            asking.start()
            if first:
                asking.join()
        return self.records()

    def _ask_hosts(self) -> None:
        try:
            self.refresh(fetch=False)
        except Exception as exc:  # a thread's failure is a host problem to show, not a crash
            self.problems["(every host)"] = f"asking the hosts failed: {exc}"
        finally:
            self._asking.release()

    def _refresh_one(
        self, key: tuple[str, str], rows: Sequence[RemoteRow], *, fetch: bool = True
    ) -> None:
        host, clone = key
        store = self.manager.store
        try:
            listed: list[dict[str, Any]] = self.host(host).json(clone, "ls", "--json", "--all")
        except AgentmuxError as exc:
            self.problems[host] = exc.message
            store.update_remotes([RemoteUpdate(r.id, reachable=False) for r in rows if r.reachable])
            return
        self.problems.pop(host, None)
        by_id = {str(item.get("id")): item for item in listed}
        updates = []
        for row in rows:
            found = by_id.get(row.id)
            if found is None:
                # The host's agentmux has no record of it (its state was reset): it is not
                # running there, and its branch may still be; keep it, as lost.
                found = {**row.row, "status": "lost"}
            else:
                found = {**found, LOCAL_BASE_REF: row.row.get(LOCAL_BASE_REF)}
            self.heard[row.id] = found
            if row.reachable and _same_but_idle(row.row, found):
                continue  # a quiet session: no write, so no state change for watchers to see
            removed = found.get("status") == Status.REMOVED
            updates.append(RemoteUpdate(row.id, found, True, time.time() if removed else None))
        store.update_remotes(updates)
        if fetch:
            self._fetch_moved(host, clone, [by_id[r.id] for r in rows if r.id in by_id])

    def _fetch_moved(self, host: str, clone: str, listed: Sequence[dict[str, Any]]) -> None:
        """Fetch the branches whose tip on the host (``branch_head`` of its ``ls --json``) is
        not what is here already: a listing of idle sessions makes no fetch. A host whose
        agentmux does not say its tips has every branch fetched."""
        here = ref_tips(self.manager.repo, host_ref(host, "refs/heads/"))
        moved = [
            f"refs/heads/{item['branch']}"
            for item in listed
            if item.get("branch")
            and (
                item.get("branch_head") is None
                or here.get(host_ref(host, f"refs/heads/{item['branch']}")) != item["branch_head"]
            )
        ]
        self._fetch_quietly(self.host(host), clone, moved)

    def _fetch_quietly(self, remote: RemoteAgentmux, clone: str, refs: list[str]) -> None:
        try:
            remote.fetch(self.manager.repo, clone, refs)
        except AgentmuxError as exc:
            self.problems[remote.name] = exc.message

    def exported_work(self) -> dict[str, Snapshot]:
        """Each live session on another host as a snapshot here: its host exports its work in
        progress (``_export-work``), and its branch and that snapshot are fetched. A host not
        reached, or a worktree it cannot read, gives a snapshot that says why."""
        groups = self.by_clone()
        found: dict[str, Snapshot] = {}
        for (host, clone), rows in groups.items():
            try:
                remote = self.host(host)
                exported: list[dict[str, Any]] = remote.json(
                    clone, "_export-work", *(r.name for r in rows)
                )
                remote.fetch(self.manager.repo, clone, self._moved_work(host, rows, exported))
            except AgentmuxError as exc:
                for row in rows:
                    found[row.id] = Snapshot(row.id, unavailable=f"host {host}: {exc.message}")
                continue
            for item in exported:
                sid = str(item["id"])
                if item.get("unavailable") or not item.get("wip"):
                    why = item.get("unavailable") or "no snapshot"
                    found[sid] = Snapshot(sid, unavailable=f"on host {host}: {why}")
                else:
                    found[sid] = Snapshot(sid, item["wip"], item["tree"], item.get("head"))
        return found

    def _moved_work(
        self, host: str, rows: Sequence[RemoteRow], exported: Sequence[dict[str, Any]]
    ) -> list[str]:
        """The refs of the host's exported work whose tips are not here yet: a radar asking
        every 15 s about quiet sessions fetches nothing (and wakes no git on either side)."""
        here = ref_tips(self.manager.repo, host_ref(host, "refs/"))
        tips = {str(e.get("name")): e.get("tip") for e in exported}
        moved = [
            e["wip_ref"]
            for e in exported
            if e.get("wip_ref") and here.get(host_ref(host, e["wip_ref"])) != e.get("wip")
        ]
        for row in rows:
            branch = f"refs/heads/{row.row['branch']}"
            tip = tips.get(row.name)
            if tip is None or here.get(host_ref(host, branch)) != tip:
                moved.append(branch)
        return moved

    def cost_rows(self, include_removed: bool = True) -> list[dict[str, Any]]:
        """Each session on another host as its host's ``cost --json`` reports it, with
        ``"host"``; a host not reached gives rows whose figures are all unknown (None)."""
        groups = self.by_clone(include_removed)
        found: list[dict[str, Any]] = []
        for (host, clone), rows in groups.items():
            try:
                report: dict[str, Any] = self.host(host).json(clone, "cost", "--json")
                by_id = {str(s.get("id")): s for s in report.get("sessions", [])}
            except AgentmuxError as exc:
                self.problems[host] = exc.message
                by_id = {}
            for row in rows:
                item = by_id.get(row.id) or unknown_cost(row)
                found.append({**item, "host": host})
        return found

    def sockets(self) -> dict[str, str]:
        """Each host with live sessions here -> the path, on that host, of the tmux server its
        agentmux runs them on (asked once per host and clone; hosts not reached are left out)."""
        found: dict[str, str] = {}
        for host, clone in dict.fromkeys((row.host, row.clone) for row in self.rows()):
            if host in found:
                continue
            key = (host, clone)
            if key not in self._sockets:
                try:
                    self._sockets[key] = str(self.host(host).json(clone, "_socket")["socket"])
                except (AgentmuxError, KeyError, TypeError):
                    continue
            found[host] = self._sockets[key]
        return found

    def require(self, name: str) -> tuple[RemoteRow, RemoteAgentmux]:
        """The session on another host called ``name`` and its host (one sentence when none)."""
        row = self.find(name)
        if row is None:
            raise AgentmuxError(f"there is no session named {name!r} (see `agentmux ls`).")
        return row, self.host(row.host)

    def send(self, name: str, text: bytes, *, submit: bool = True, hold: bool = True) -> None:
        """Type ``text`` into the session's agent, by its host's ``send`` (held while busy)."""
        row, remote = self.require(name)
        args = ["send", name, "-"]
        if not submit:
            args.append("--no-enter")
        if not hold:
            args.append("--now")
        remote.run(row.clone, *args, input=text)

    def broadcast(self, text: bytes, to: str | list[str]) -> list[str]:
        """Send ``text`` to sessions on other hosts (``all``, ``idle``, or these names), each
        host once by its own ``broadcast`` (which holds it while an agent is busy); the names
        reached. A host not reached is left out and noted in :attr:`problems`."""
        reached: list[str] = []
        for (host, clone), rows in self.by_clone().items():
            names = [row.name for row in rows if isinstance(to, str) or row.name in to]
            if not names:
                continue
            spec = to if isinstance(to, str) else ",".join(names)
            try:
                sent = self.host(host).json(
                    clone, "broadcast", "-", "--to", spec, "--json", input=text
                )
            except AgentmuxError as exc:
                if "no running session matched" not in exc.message:
                    self.problems[host] = exc.message
                continue
            reached += [str(name) for name in sent]
        return reached

    def stop(self, name: str) -> None:
        """End the session's agent on its host."""
        row, remote = self.require(name)
        remote.run(row.clone, "stop", name)
        self._refresh_one((row.host, row.clone), [row])

    def remove(self, name: str, *, force: bool = False, delete_branch: bool = False) -> str:
        """Remove the session on its host (the host's safety rules; its archive ref made there),
        then fetch its branch or archive here. Returns the local ref holding its work."""
        row, remote = self.require(name)
        branch = f"refs/heads/{row.row['branch']}"
        # Its work is fetched first: whatever the host does next, its commits are here too.
        remote.fetch(self.manager.repo, row.clone, [branch])
        args = ["rm", name, *(["--force"] if force else []), *(["--delete-branch"] * delete_branch)]
        remote.run(row.clone, *args)
        listed: list[dict[str, Any]] = remote.json(row.clone, "ls", "--json", "--all")
        found = next((item for item in listed if item.get("id") == row.id), row.row)
        found = {**found, LOCAL_BASE_REF: row.row.get(LOCAL_BASE_REF)}
        archive = found.get("archive_ref")
        kept = [archive] if archive else []
        if not delete_branch:
            kept.append(branch)
        remote.fetch(self.manager.repo, row.clone, kept)
        self.manager.store.update_remote(row.id, row=found, reachable=True, removed_at=time.time())
        return host_ref(row.host, kept[0]) if kept else host_ref(row.host, branch)

    def resume(self, names: Sequence[str], *, every: bool = False) -> list[dict[str, Any]]:
        """Resume sessions on their hosts, each host by its own ``resume --json`` (every
        resumable one of this repository's with ``every``): its rows, each with ``"host"``; a
        host not reached refuses each of its sessions with its sentence."""
        self.manager.writable("resume sessions")
        found: list[dict[str, Any]] = []
        for (host, clone), sessions in self.by_clone().items():
            wanted = [row.name for row in sessions if every or row.name in names]
            if not wanted:
                continue
            args = ["resume", "--json", *(["--all"] if every else wanted)]
            try:
                result = self.host(host).run_raw(clone, args)
                rows: list[dict[str, Any]] = (
                    json.loads(result.stdout) if result.stdout.strip() else []
                )
            except (AgentmuxError, ValueError) as exc:
                why = exc.message if isinstance(exc, AgentmuxError) else "it did not answer in JSON"
                rows = [{"name": n, "outcome": "refused", "message": why} for n in wanted]
            found += [{**row, "host": host} for row in rows]
        return found

    def attach(self, name: str) -> int:
        """Attach full-screen (``ssh -t``) to the session on its host; the exit status."""
        row, remote = self.require(name)
        return remote.attach(row.clone, name)

    def close(self) -> None:
        """Nothing to release: the masters persist for the next command (``ControlPersist``)."""


def made_there(remote: RemoteAgentmux, clone: str, name: str) -> dict[str, Any] | None:
    """The host's ``ls --json`` row of its live session ``name``, or None (none, or the host
    not answering)."""
    try:
        listed: list[dict[str, Any]] = remote.json(clone, "ls", "--json")
    except AgentmuxError:
        return None
    return next((item for item in listed if item.get("name") == name), None)


def unknown_cost(row: RemoteRow) -> dict[str, Any]:
    """A ``cost --json`` row for a session whose host did not report it: every figure unknown."""
    record = remote_record(row)
    return {
        "id": row.id,
        "name": row.name,
        "agent": record.agent if record else None,
        "status": str(Status.UNREACHABLE),
        "transcript": None,
        "models": [],
        "tokens": None,
        "tokens_by_model": None,
        "cost_usd": None,
        "cost_by_model_usd": None,
        "unpriced_models": [],
        "turns": None,
        "failed_turns": None,
        "failure_rate": None,
        "failures": [],
        "queue_wait_seconds": {"count": 0, "mean": None, "p95": None, "current": None},
        "waiting_on_you_seconds": None,
        "wall_seconds": None,
        "resumes": None,
        "budget_usd": None,
        "malformed_lines": None,
    }


_OUTCOMES: dict[str, Literal["resumed", "queued", "fresh"]] = {
    "resumed": "resumed",
    "queued": "queued",
    "fresh": "fresh",
}
_MODES: dict[str, Literal["continue", "fresh"]] = {"continue": "continue", "fresh": "fresh"}


def resume_outcome(row: dict[str, Any]) -> ResumeOutcome:
    """A host's ``resume --json`` row (with ``"host"``) as this machine's outcome; what the host
    said is kept, and where (an outcome this version does not know is a refusal)."""
    from agentmux.core.sessions.resume import ResumeOutcome  # noqa: PLC0415 - its readers are heavy

    return ResumeOutcome(
        name=str(row.get("name")),
        outcome=_OUTCOMES.get(str(row.get("outcome")), "refused"),
        message=f"{row.get('message')} (on host {row.get('host')})",
        mode=_MODES.get(str(row.get("mode"))),
        conversation_id=row.get("conversation_id"),
    )
