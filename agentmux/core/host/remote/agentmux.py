"""The agentmux on another host, driven by its own verbs over the host's one ssh master.

Every call is ``<agentmux> -C <clone> <verb> ... --json`` run through
:class:`~agentmux.core.host.ssh.SshConnection` (a channel on the master, never a login of its own),
its argv quoted for the remote shell, a prompt on stdin (never in a command line). The host's
agentmux owns its sessions: its tmux server, state store, hooks and transcripts stay there. Code
moves with git over the same master: the base commit is pushed into the host's clone, and each
session's branch (and archive ref) are fetched back under ``refs/agentmux/hosts/<host>/``.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Sequence
from typing import Any

from agentmux import __version__
from agentmux.core.config.hosts import HostEntry
from agentmux.core.errors import AgentmuxError
from agentmux.core.git.repo import Repo
from agentmux.core.host.remote.clone import CLONE_BRANCH
from agentmux.core.host.ssh.check import check_agentmux
from agentmux.core.host.ssh.connection import RunResult, SshConnection
from agentmux.core.records import host_ref


def said(result: RunResult) -> str:
    """The one sentence a failed agentmux verb printed (its ``agentmux: `` prefix dropped)."""
    lines = result.stderr.decode(errors="replace").strip().splitlines()
    for line in reversed(lines):
        if line.startswith("agentmux: "):
            return line.removeprefix("agentmux: ").strip()
    return lines[-1].strip() if lines else f"exit status {result.returncode}"


class RemoteAgentmux:
    """Host ``name``'s agentmux, working in the host's clone of this repository."""

    def __init__(self, name: str, entry: HostEntry, connection: SshConnection) -> None:
        self.name = name
        self.entry = entry
        self.connection = connection
        self._checked = False

    # --- verbs --------------------------------------------------------------------------------

    def check_version(self) -> None:
        """Refuse, in one sentence saying how to install it, a host whose agentmux is missing or
        does not work with this one (checked once per object)."""
        if self._checked:
            return
        found = check_agentmux(
            self.name,
            self.entry,
            self.connection.run([self.entry.agentmux, "--version"]),
            __version__,
        )
        if found.problem is not None:
            raise AgentmuxError(found.problem)
        self._checked = True

    def run(
        self,
        clone: str | None,
        *args: str,
        input: bytes | None = None,
        timeout: float | None = None,
    ) -> RunResult:
        """Run ``agentmux [-C clone] args`` on the host; one sentence (``on host X: ...``)
        when it fails there."""
        argv = [self.entry.agentmux, *(["-C", clone] if clone else []), *args]
        result = self.connection.run(argv, input=input, timeout=timeout)
        if not result.ok:
            raise AgentmuxError(f"on host {self.name}: {said(result)}")
        return result

    def run_raw(self, clone: str, args: Sequence[str], *, input: bytes | None = None) -> RunResult:
        """Run ``agentmux -C clone args`` on the host and return how it ended, failed or not
        (a verb whose output and exit status are passed on as they are)."""
        return self.connection.run([self.entry.agentmux, "-C", clone, *args], input=input)

    def json(self, clone: str | None, *args: str, input: bytes | None = None) -> Any:
        """A verb's JSON output (``--json`` is the caller's to pass)."""
        result = self.run(clone, *args, input=input)
        try:
            return json.loads(result.stdout)
        except ValueError as exc:
            raise AgentmuxError(
                f"host {self.name}'s agentmux printed something that is not JSON for "
                f"`{' '.join(args)}`; is it the same agentmux version?"
            ) from exc

    def prepare_clone(self, repo_key: str) -> str:
        """The host's clone of this repository (made, empty, if it is new): its path there."""
        self.check_version()
        args = ["_host-clone", "--key", repo_key]
        if self.entry.path:
            args += ["--path", self.entry.path]
        data = self.json(None, *args)
        return str(data["clone"])

    # --- git ----------------------------------------------------------------------------------

    def _url(self, clone: str) -> str:
        # scp-like syntax: the target as the user gave it (an ssh_config alias works), the path
        # absolute as the host's agentmux said.
        return f"{self.connection.target}:{clone}"

    def _git(self, repo: Repo, args: Sequence[str], what: str) -> None:
        self.connection.open()  # git's ssh is a channel on the master, which must be up
        env = {**os.environ, "GIT_SSH_COMMAND": self.connection.command.for_git()}
        env.pop("GIT_SSH", None)
        proc = subprocess.run(
            ["git", "-C", str(repo.root), *args],
            capture_output=True,
            env=env,
            check=False,
            stdin=subprocess.DEVNULL,
            timeout=self.connection.settings.run_timeout * 3,
        )
        if proc.returncode != 0:
            lines = proc.stderr.decode(errors="replace").strip().splitlines()
            why = lines[-1] if lines else f"exit status {proc.returncode}"
            raise AgentmuxError(f"could not {what} host {self.name}: git said: {why}")

    def push_base(self, repo: Repo, clone: str, commit: str) -> None:
        """Push ``commit`` (and its history) into the host's clone, as its checked-out branch."""
        self._git(
            repo,
            ["push", "--quiet", "--force", self._url(clone), f"{commit}:refs/heads/{CLONE_BRANCH}"],
            "push the base commit to",
        )

    def fetch(self, repo: Repo, clone: str, refs: Sequence[str]) -> None:
        """Fetch ``refs`` of the host's clone into :func:`host_ref` refs here (forced: the host
        is the truth for its sessions' branches)."""
        if refs:
            specs = [f"+{ref}:{host_ref(self.name, ref)}" for ref in refs]
            self._git(
                repo,
                ["fetch", "--quiet", "--no-tags", self._url(clone), *specs],
                "fetch sessions' work from",
            )

    def attach(self, clone: str, name: str) -> int:
        """Attach full-screen to session ``name`` on the host (``ssh -t`` through the master)
        until the user detaches; the exit status."""
        self.connection.open()
        argv = self.connection.command.interactive(
            [self.entry.agentmux, "-C", clone, "attach", name]
        )
        return subprocess.run(argv, check=False).returncode
