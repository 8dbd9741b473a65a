"""User and repository configuration, validated with pydantic; errors name the file and line."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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


def load_file(path: Path) -> dict[str, Any]:
    """Parse one TOML config file, raising a one-sentence error naming the line."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise AgentmuxError(f"cannot read config file {path}: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:
        raise AgentmuxError(f"config file {path} is not valid UTF-8.") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AgentmuxError(f"config file {path} is not valid TOML: {exc}.") from exc
    try:
        Config.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        line = _line_of(text, tuple(first["loc"]))
        where = f"{path}, line {line}" if line else str(path)
        field = ".".join(str(part) for part in first["loc"])
        raise AgentmuxError(f"config error in {where}: {field}: {first['msg']}.") from exc
    return data


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if key == "agents" and isinstance(value, dict):
            merged["agents"] = {**merged.get("agents", {}), **value}
        else:
            merged[key] = value
    return merged


def load_config(repo_root: Path | None) -> Config:
    """Load the user config, then the repository's ``agentmux.toml`` on top of it."""
    data: dict[str, Any] = {}
    for path in (
        config_dir() / USER_CONFIG_NAME,
        repo_root / REPO_CONFIG_NAME if repo_root else None,
    ):
        if path is not None and path.is_file():
            data = _merge(data, load_file(path))
    if not data:
        # The defaults are valid by construction; skipping validation spares every CLI call
        # the cost of building pydantic's validators.
        return Config.model_construct()
    return Config.model_validate(data)
