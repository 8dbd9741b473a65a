"""``agentmux trust``: review a repository's ``agentmux.toml`` and trust it (or ``--revoke``).

Until the user trusts it, a repository's file applies only its safe settings; its agents, their
commands and environment, and its worktree location are ignored (docs/configuration.md, "Trust").
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from agentmux.commands.common import add_verb, out
from agentmux.core.config.trust import flatten, revoke, trust
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git


def cmd_trust(args: argparse.Namespace) -> int:
    """Show the file's unsafe settings, ask, record its hash; or forget it."""
    from agentmux.core.config.settings import (  # noqa: PLC0415 - the models load for this verb only
        REPO_CONFIG_NAME,
        read_repo_config,
        unsafe_settings,
    )

    repo = git.discover_repo(Path.cwd())
    path = repo.root / REPO_CONFIG_NAME
    if args.revoke:
        had = revoke(path)
        out.print(f"{path} is no longer trusted." if had else f"{path} was not trusted.")
        return 0
    found = read_repo_config(repo.root)
    if found is None:
        raise AgentmuxError(f"there is no {path}; nothing to trust.")
    state = found.trust
    if state.state == "safe":
        out.print(f"{path} has only settings that need no trust; nothing to do.")
        return 0
    if state.state == "trusted":
        out.print(f"{path} is already trusted as it is (sha256 {state.sha256[:12]}).")
        return 0
    unsafe = unsafe_settings(found.settings)  # from the very bytes whose hash is recorded
    out.print(f"{path} asks for these settings, which run programs or steer the agents:")
    for key, value in flatten(unsafe):
        out.print(f"  {key} = {value}")
    if not args.yes:
        if not sys.stdin.isatty():
            raise AgentmuxError(
                f"no terminal to ask on: review {path}, then run `agentmux trust --yes`."
            )
        answer = input(f"Trust {path} as it is now (sha256 {state.sha256[:12]})? [y/N] ")
        if answer.strip().lower() not in ("y", "yes"):
            raise AgentmuxError(f"{path} is not trusted; nothing changed.")
    trust(path, state.sha256)
    out.print(f"trusted {path}; a change to it needs your trust again.")
    return 0


def register(verbs: Any) -> None:
    """Add the ``trust`` verb."""
    text = "review this repository's agentmux.toml and trust it (its agents, env, worktree_root)"
    sub = add_verb(verbs, "trust", cmd_trust, text)
    sub.add_argument("--yes", action="store_true", help="trust it without asking (for scripts)")
    sub.add_argument("--revoke", action="store_true", help="stop trusting it")
