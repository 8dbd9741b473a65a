"""User and repository configuration, validated with pydantic; errors name the file and line.

The user's own file is trusted; a repository's ``agentmux.toml`` applies in full only once the
user trusts it (``agentmux.core.config.trust``), before that only its safe settings (``REPO_SAFE``).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator

from agentmux.core.config.trust import RepoTrust, digest, show_key, trusted_digest
from agentmux.core.errors import AgentmuxError
from agentmux.core.paths import config_dir

REPO_CONFIG_NAME = "agentmux.toml"
USER_CONFIG_NAME = "config.toml"


# Strict types: TOML has real booleans, integers and strings, so `max_sessions = true` or
# `idle_seconds = "3"` is a mistake to point out, not a value to coerce (a whole number is still
# accepted where a number is asked).
_STRICT = ConfigDict(extra="forbid", defer_build=True, strict=True)


class AgentConfig(BaseModel):
    """An agent profile defined (or a built-in one overridden) in a config file."""

    model_config = _STRICT

    command: list[str] = Field(min_length=1, description="argv of the agent program")
    resume: list[str] | None = Field(
        default=None,
        min_length=1,
        description="argv that continues a session's conversation ({session_id}: its id)",
    )
    env: dict[str, str] = Field(default_factory=dict)
    kind: Literal["claude", "codex", "generic"] = "generic"
    ready_pattern: str | None = None
    waiting_pattern: str | None = None
    ready_timeout: float = Field(default=60.0, gt=0)
    submit_delay: float = Field(default=0.1, ge=0)

    @field_validator("ready_pattern", "waiting_pattern")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from exc
        return value


class Config(BaseModel):
    """All settings agentmux reads; every field has a default."""

    model_config = _STRICT

    max_sessions: int = Field(default=9, ge=1, le=64)
    worktree_root: str | None = None
    default_agent: str | None = None
    idle_seconds: float = Field(default=3.0, gt=0)
    theme: str | None = None
    attention: Literal["bell", "osc9", "osc777", "none"] = "bell"
    budget_usd: float | None = Field(default=None, gt=0)
    warn_agents_on_overlap: bool = False
    agents: dict[str, AgentConfig] = Field(default_factory=dict)
    _repo_trust: RepoTrust | None = PrivateAttr(default=None)

    @property
    def repo_trust(self) -> RepoTrust | None:
        """How the repository's ``agentmux.toml`` was applied (None when there is none)."""
        return self._repo_trust

    @property
    def trust_notice(self) -> str | None:
        """The sentence saying which repository settings were ignored, untrusted; else None."""
        return self._repo_trust.notice if self._repo_trust is not None else None


# Settings a repository's agentmux.toml applies before the user trusts it: none of them can run a
# program, change what an agent runs or its environment (where it sends requests and
# credentials), or choose where agentmux writes files. Any setting not listed needs trust, so a
# new one is unsafe until decided otherwise (docs/configuration.md, "Trust").
REPO_SAFE = frozenset(
    {
        "max_sessions",
        "idle_seconds",
        "theme",
        "attention",
        "budget_usd",
        "warn_agents_on_overlap",
        "default_agent",
    }
)


def config_error(exc: ValidationError, text: str, path: Path) -> AgentmuxError:
    """The one sentence for a TOML file ``text`` (at ``path``) that fails validation: the first
    error, with the line of its key where it can be found."""
    first = exc.errors()[0]
    line = _line_of(text, tuple(first["loc"]))
    where = f"{path}, line {line}" if line else str(path)
    field = ".".join(show_key(str(part)) for part in first["loc"])
    return AgentmuxError(f"config error in {where}: {field}: {first['msg']}.")


def _line_of(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best-effort line number (1-based) of the TOML key at ``loc`` in ``text``."""
    keys = [str(part) for part in loc if isinstance(part, str)]
    if not keys:
        return None
    table: list[str] = []
    fallback: int | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]$", line)
        if header:
            table = [part.strip().strip('"') for part in header.group(1).split(".")]
            if table == keys[: len(table)] and fallback is None:
                fallback = number
            continue
        key = re.match(r'^"?([A-Za-z0-9_.-]+)"?\s*=', line)
        if key:
            full = table + [part.strip('"') for part in key.group(1).split(".")]
            if full == keys[: len(full)]:
                return number
    return fallback


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise AgentmuxError(f"cannot read config file {path}: {exc.strerror}.") from exc


def parse_config(path: Path, raw: bytes) -> dict[str, Any]:
    """Parse and validate the bytes of config file ``path``; a one-sentence error names the line."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise AgentmuxError(f"config file {path} is not valid UTF-8.") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AgentmuxError(f"config file {path} is not valid TOML: {exc}.") from exc
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        raise config_error(exc, text, path) from exc
    return data


def load_file(path: Path) -> dict[str, Any]:
    """Parse one TOML config file, raising a one-sentence error naming the line."""
    return parse_config(path, _read(path))


def unsafe_settings(data: dict[str, Any]) -> dict[str, Any]:
    """The settings of a config file that need the user's trust (see ``REPO_SAFE``)."""
    return {key: value for key, value in data.items() if key not in REPO_SAFE}


@dataclass(frozen=True)
class RepoConfig:
    """A repository's ``agentmux.toml``: every setting in it, and whether the user trusts it."""

    settings: dict[str, Any]
    trust: RepoTrust

    def applied(self) -> dict[str, Any]:
        """What takes effect: everything once trusted, else only the safe settings."""
        if self.trust.state != "untrusted":
            return self.settings
        return {key: value for key, value in self.settings.items() if key in REPO_SAFE}


def read_repo_config(repo_root: Path) -> RepoConfig | None:
    """The repository's ``agentmux.toml`` with its trust state, or None when it has none.

    The file is read once: the bytes that are hashed are the bytes that are shown and applied.
    """
    path = repo_root / REPO_CONFIG_NAME
    if not path.is_file():
        return None
    raw = _read(path)
    data = parse_config(path, raw)
    sha = digest(raw)
    unsafe = unsafe_settings(data)
    if not unsafe:
        return RepoConfig(data, RepoTrust(path, sha, "safe"))
    if trusted_digest(path) == sha:
        return RepoConfig(data, RepoTrust(path, sha, "trusted"))
    ignored: list[str] = []
    for key, value in unsafe.items():
        ignored += [f"agents.{show_key(n)}" for n in value] if key == "agents" else [show_key(key)]
    agents = frozenset(data.get("agents", {}))
    return RepoConfig(data, RepoTrust(path, sha, "untrusted", tuple(ignored), agents))


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "agents" and isinstance(value, dict):
            merged["agents"] = {**merged.get("agents", {}), **value}
        else:
            merged[key] = value
    return merged


def load_config(repo_root: Path | None) -> Config:
    """Load the user config, then the repository's ``agentmux.toml`` on top of it: all of it
    when the user trusts it, else only its safe settings (``Config.repo_trust`` says which)."""
    data: dict[str, Any] = {}
    user = config_dir() / USER_CONFIG_NAME
    if user.is_file():
        data = load_file(user)
    repo = read_repo_config(repo_root) if repo_root is not None else None
    if repo is not None:
        data = _merge(data, repo.applied())
    # The defaults are valid by construction; skipping validation spares every CLI call the
    # cost of building pydantic's validators.
    config = Config.model_validate(data) if data else Config.model_construct()
    config._repo_trust = repo.trust if repo is not None else None
    return config
