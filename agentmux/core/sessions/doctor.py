"""``agentmux doctor``: every prerequisite checked, one line each."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from agentmux.core.agents.profiles import all_profiles
from agentmux.core.config.settings import Config, load_config
from agentmux.core.errors import AgentmuxError
from agentmux.core.git import repo as git
from agentmux.core.git.merge import require_identity
from agentmux.core.git.merge_landing import JOURNAL, Journal
from agentmux.core.host.local import MIN_TMUX, LocalHost, tmux_version
from agentmux.core.paths import SOCKET_META, repo_key, socket_path
from agentmux.core.state import StateStore

Level = Literal["ok", "warn", "fail"]


@dataclass(frozen=True)
class Check:
    """The outcome of one check."""

    name: str
    level: Level
    detail: str


def _tool_checks() -> list[Check]:
    checks: list[Check] = []
    need_tmux = f"{MIN_TMUX[0]}.{MIN_TMUX[1]}"
    try:
        tv = tmux_version()
        ok = tv >= MIN_TMUX
        checks.append(
            Check("tmux", "ok" if ok else "fail", f"{tv[0]}.{tv[1]} (need {need_tmux} or newer)")
        )
    except AgentmuxError as exc:
        checks.append(Check("tmux", "fail", exc.message))
    need_git = ".".join(map(str, git.MIN_GIT))
    try:
        gv = git.git_version()
        ok = gv[:2] >= git.MIN_GIT
        checks.append(
            Check(
                "git",
                "ok" if ok else "fail",
                f"{'.'.join(map(str, gv))} (need {need_git} or newer)",
            )
        )
    except AgentmuxError as exc:
        checks.append(Check("git", "fail", exc.message))
    return checks


def _agent_checks(config: Config) -> list[Check]:
    checks: list[Check] = []
    for name, profile in sorted(all_profiles(config).items()):
        found = profile.find_program()
        if found:
            checks.append(Check(f"agent {name}", "ok", found))
        else:
            level: Level = "fail" if config.default_agent == name else "warn"
            checks.append(Check(f"agent {name}", level, f"{profile.program!r} is not installed"))
    return checks


def run_checks(cwd: Path) -> list[Check]:
    """All checks that apply where agentmux was started."""
    checks = _tool_checks()
    try:
        repo = git.discover_repo(cwd)
    except AgentmuxError as exc:
        checks += _agent_checks(Config())
        checks.append(Check("repository", "warn", f"{exc.message} (state store not checked)"))
        return checks
    try:
        config = load_config(repo.root)
        checks.append(Check("config", "ok", "valid"))
        trust = config.repo_trust
        level, detail = trust.doctor_line() if trust else ("ok", "no agentmux.toml to trust")
        checks.append(Check("config trust", level, detail))
    except AgentmuxError as exc:
        checks.append(Check("config", "fail", exc.message))
        config = Config()
    checks += _agent_checks(config)
    checks.append(_identity_check(repo))
    checks.append(_landing_check(repo.common_dir / "agentmux" / JOURNAL))
    db = repo.common_dir / "agentmux" / "state.db"
    saved: str | None = None
    if not db.exists():
        checks.append(Check("state store", "ok", f"{db} (not created yet)"))
    else:
        try:
            store = StateStore(db)
            result = store.integrity()
            count = len(store.sessions())
            saved = store.get_meta(SOCKET_META)
            store.close()
            checks.append(
                Check(
                    "state store",
                    "ok" if result == "ok" else "fail",
                    f"{db}: {count} session(s), integrity {result}",
                )
            )
        except AgentmuxError as exc:
            checks.append(Check("state store", "fail", exc.message))
    checks.append(_server_check(repo.common_dir / "agentmux", repo_key(repo.common_dir), saved))
    return checks


def _server_check(files: Path, key: str, saved: str | None) -> Check:
    """The tmux server on the socket agentmux uses: the one saved once a session started on
    it, else the one the environment names now."""
    try:
        socket = socket_path(key, saved)
    except AgentmuxError as exc:
        return Check("tmux server", "fail", exc.message)
    running = LocalHost(socket, files, key).server_running()
    state = "running" if running else "not running (starts with the first session)"
    return Check("tmux server", "ok", f"{socket}: {state}")


def _identity_check(repo: git.Repo) -> Check:
    """Merges make commits: git needs a name and an email for them."""
    try:
        require_identity(repo)
    except AgentmuxError as exc:
        return Check("git identity", "warn", exc.message)
    return Check("git identity", "ok", "set (merges can make commits)")


def _landing_check(path: Path) -> Check:
    """A merge killed while it landed leaves its journal; read it without acting on it (the
    next merge finishes or undoes that landing)."""
    try:
        journal = Journal.from_json(path.read_text())
    except FileNotFoundError:
        return Check("merge landing", "ok", "no interrupted merge")
    except (OSError, KeyError, TypeError, ValueError):
        return Check("merge landing", "warn", f"{path} is damaged; the next merge sets it aside")
    names = ", ".join(step.name for step in journal.plan.steps) or "-"
    return Check(
        "merge landing",
        "warn",
        f"a merge into {journal.plan.into} ({names}) was interrupted while it landed; "
        "the next `agentmux merge` finishes or undoes it before anything else",
    )
