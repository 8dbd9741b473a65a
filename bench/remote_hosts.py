"""What the benches of sessions on other hosts share: the agentmux CLI run here, a one-commit
repository, this checkout's agentmux installed for the ssh tests' second user (with a wrapper that
makes its demo agents fast), and a host added for it.

Imported by the bench scripts as ``remote_hosts`` (they run with ``bench/`` on ``sys.path``), after
they put the project root on ``sys.path`` too (the ssh fixtures live under ``tests/``).
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.core.host.ssh.sshd import Sshd


def agentmux(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real ``agentmux`` CLI in ``repo``; the bench ends with its error when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "agentmux", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if done.returncode != 0:
        raise SystemExit(f"agentmux {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def make_repo(path: Path) -> Path:
    """A new repository at ``path`` with one empty commit on ``main``."""
    path.mkdir()
    for git_args in (
        ["init", "--quiet", "--initial-branch=main"],
        ["commit", "--quiet", "--allow-empty", "-m", "initial"],
    ):
        subprocess.run(["git", *git_args], cwd=path, check=True)
    return path


def install_fast_agentmux(server: Sshd) -> Path:
    """This checkout's agentmux installed for the server's user; a wrapper running it with fast
    demo agents (``AGENTMUX_DEMO_FAST=1``), which is what a host entry names."""
    from tests.core.host.ssh.remote_install import install_agentmux  # noqa: PLC0415 - after path
    from tests.core.host.ssh.sshd import chown_tree  # noqa: PLC0415

    program = install_agentmux(server.remote_dir / "venv", server.user)
    fast = program.with_name("agentmux-fast")
    fast.write_text(f'#!/bin/sh\nAGENTMUX_DEMO_FAST=1 exec {shlex.quote(str(program))} "$@"\n')
    fast.chmod(0o755)
    chown_tree(server.remote_dir, server.user)
    return fast


def add_host(repo: Path, name: str, server: Sshd, program: Path, clones: Path) -> None:
    """``agentmux host add``: ``name`` is the server, its agentmux ``program``, its clones kept
    under ``clones`` (one directory per host makes each its own agentmux, as a machine would)."""
    agentmux(
        repo,
        "host",
        "add",
        name,
        "amx-sshd",
        "--ssh-command",
        server.ssh_command,
        "--agentmux",
        str(program),
        "--path",
        str(clones),
    )
