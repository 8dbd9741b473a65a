"""The user's hosts (machines reached over ssh), in ``$XDG_CONFIG_HOME/agentmux/hosts.toml``.

The file sits beside the user's ``config.toml`` and is read the same way (TOML, strict pydantic
types, an error names the file and line). ``agentmux host add`` and ``host rm`` rewrite it whole,
atomically and private (0600); the user may edit it by hand too. Only the user's own directory
holds hosts: a repository's ``agentmux.toml`` cannot name one, so a cloned repository never
chooses where agentmux logs in or which ssh command it runs.

One table per host::

    [hosts.build1]
    target = "me@build1.example.com"   # what ssh connects to: [user@]host or a ~/.ssh/config alias
    agentmux = "agentmux"              # the agentmux program on that host
    ssh_command = "ssh -F /home/me/.ssh/work"   # optional: like git's core.sshCommand
    path = "/srv/clones"               # optional: where the host keeps its clones
"""

from __future__ import annotations

import json
import os
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from agentmux.core.config.settings import config_error
from agentmux.core.errors import AgentmuxError
from agentmux.core.locking import repo_lock
from agentmux.core.naming import check_name
from agentmux.core.paths import config_dir
from agentmux.core.records import LOCAL_HOST

HOSTS_FILE = "hosts.toml"
#: The program ``host check`` runs on a host when the entry names none.
DEFAULT_AGENTMUX = "agentmux"
MAX_HOST_NAME = 32
# [user@]host, host being a name, an alias, an IPv4 or a bracketed/scoped IPv6 address. Nothing a
# shell or an ssh_config token reads: a ProxyCommand of the user's may put the host into a shell
# command line (%h), and older OpenSSH clients do not check it.
_TARGET_RE = re.compile(r"^(?:[A-Za-z0-9_][A-Za-z0-9._-]*@)?[A-Za-z0-9_\[][A-Za-z0-9._:%\[\]-]*$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def hosts_path() -> Path:
    """Where the user's hosts are kept: ``$XDG_CONFIG_HOME/agentmux/hosts.toml``."""
    return config_dir() / HOSTS_FILE


def validate_host_name(name: str) -> str:
    """Return ``name`` if it can name a host, else raise a one-sentence error."""
    check_name(name, "host", MAX_HOST_NAME)
    if name == LOCAL_HOST:
        raise AgentmuxError(
            f"host name {LOCAL_HOST!r} is taken: it names this machine; choose another name."
        )
    return name


def _check_target(value: str) -> str:
    if not _TARGET_RE.fullmatch(value):
        raise ValueError(
            f"{value!r} is not an ssh destination agentmux accepts: give [user@]host or an alias "
            "from your ssh config (letters, digits, '.', '-', '_', ':' and '[]' only)"
        )
    return value


def _check_program(value: str) -> str:
    if not value.strip() or value.startswith("-") or _CONTROL.search(value):
        raise ValueError(f"{value!r} is not a program path")
    if value.startswith("~"):
        # Passed as an argument, never through a shell: nothing would expand it.
        raise ValueError(
            f"{value!r} starts with '~', which is not expanded: give an absolute path, or one "
            "relative to the home directory there"
        )
    return value


def _check_ssh_command(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("an ssh command cannot hold control characters")
    try:
        words = shlex.split(value)
    except ValueError as exc:
        raise ValueError(f"{value!r} cannot be split into words: {exc}") from exc
    if not words:
        raise ValueError("an ssh command cannot be empty")
    if words[0].startswith("-"):
        raise ValueError(f"{value!r} must start with the ssh program, not an option")
    return value


def _check_path(value: str) -> str:
    if not value.strip() or _CONTROL.search(value):
        raise ValueError(f"{value!r} is not a directory path")
    return value


class HostEntry(BaseModel):
    """One host: how to reach it over ssh and what runs there."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    target: str = Field(description="what ssh connects to: [user@]host or an ssh config alias")
    agentmux: str = Field(default=DEFAULT_AGENTMUX, description="the agentmux program there")
    ssh_command: str | None = Field(
        default=None, description="the ssh program and its options, split like a shell would"
    )
    path: str | None = Field(default=None, description="where the host keeps its clones")

    @field_validator("target")
    @classmethod
    def _target_form(cls, value: str) -> str:
        return _check_target(value)

    @field_validator("agentmux")
    @classmethod
    def _agentmux_program(cls, value: str) -> str:
        return _check_program(value)

    @field_validator("ssh_command")
    @classmethod
    def _ssh_command_words(cls, value: str | None) -> str | None:
        return None if value is None else _check_ssh_command(value)

    @field_validator("path")
    @classmethod
    def _path_text(cls, value: str | None) -> str | None:
        return None if value is None else _check_path(value)

    def ssh_argv(self) -> list[str]:
        """The ssh program and its options as an argument list (``ssh`` when none is set)."""
        return shlex.split(self.ssh_command) if self.ssh_command else ["ssh"]

    def to_json(self) -> dict[str, Any]:
        """The entry as ``host ls --json`` shows it (unset fields as null)."""
        return self.model_dump()


class _HostsFile(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, defer_build=True)

    hosts: dict[str, HostEntry] = Field(default_factory=dict)

    @field_validator("hosts")
    @classmethod
    def _names(cls, value: dict[str, HostEntry]) -> dict[str, HostEntry]:
        for name in value:
            try:
                validate_host_name(name)
            except AgentmuxError as exc:
                raise ValueError(exc.message.rstrip(".")) from exc
        return value


def _parse(path: Path, raw: bytes) -> dict[str, HostEntry]:
    try:
        text = raw.decode("utf-8")
        data = tomllib.loads(text)
    except UnicodeDecodeError as exc:
        raise AgentmuxError(f"hosts file {path} is not valid UTF-8.") from exc
    except tomllib.TOMLDecodeError as exc:
        raise AgentmuxError(f"hosts file {path} is not valid TOML: {exc}.") from exc
    try:
        return _HostsFile.model_validate(data).hosts
    except ValidationError as exc:
        raise config_error(exc, text, path) from exc


def load_hosts() -> dict[str, HostEntry]:
    """Every host in the user's hosts file, by name (empty when there is no file)."""
    path = hosts_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise AgentmuxError(f"cannot read hosts file {path}: {exc.strerror}.") from exc
    return _parse(path, raw)


def get_host(name: str) -> HostEntry:
    """The host called ``name``; one sentence when the name is bad or unknown."""
    validate_host_name(name)
    hosts = load_hosts()
    if name not in hosts:
        known = f" (known: {', '.join(sorted(hosts))})" if hosts else ""
        raise AgentmuxError(
            f"there is no host named {name!r}{known}: add it with "
            f"`agentmux host add {name} TARGET`."
        )
    return hosts[name]


def make_entry(
    target: str,
    *,
    agentmux: str | None = None,
    ssh_command: str | None = None,
    path: str | None = None,
) -> HostEntry:
    """A validated entry from what the user typed; one sentence naming the bad part."""
    fields: dict[str, str] = {"target": target}
    for key, value in (("agentmux", agentmux), ("ssh_command", ssh_command), ("path", path)):
        if value is not None:
            fields[key] = value
    try:
        return HostEntry.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors()[0]
        option = {"target": "TARGET", "agentmux": "--agentmux", "ssh_command": "--ssh-command"}
        what = option.get(str(first["loc"][0]), "--path")
        message = str(first["msg"]).removeprefix("Value error, ")
        raise AgentmuxError(f"{what}: {message}.") from exc


def _toml_string(value: str) -> str:
    # A JSON string of text without control characters (validated) is a TOML basic string;
    # ensure_ascii=False keeps characters outside the BMP whole (JSON would write surrogates).
    return json.dumps(value, ensure_ascii=False)


def render_hosts(hosts: dict[str, HostEntry]) -> str:
    """The text of a hosts file holding ``hosts`` (sorted by name)."""
    lines = [
        "# agentmux hosts: `agentmux host add` and `host rm` rewrite this file (comments are not",
        "# kept); see docs/remote-hosts.md.",
    ]
    for name in sorted(hosts):
        lines += ["", f"[hosts.{name}]"]
        for key, value in hosts[name].model_dump().items():
            if value is not None:
                lines.append(f"{key} = {_toml_string(value)}")
    return "\n".join(lines) + "\n"


def _write(hosts: dict[str, HostEntry]) -> None:
    path = hosts_path()
    tmp = path.with_name(f"{HOSTS_FILE}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(render_hosts(hosts))
    tmp.replace(path)


def _lock() -> Path:
    config_dir().mkdir(parents=True, exist_ok=True)
    return hosts_path().with_name(f"{HOSTS_FILE}.lock")


def add_host(name: str, entry: HostEntry) -> None:
    """Record host ``name``; one sentence when the name is bad or already taken."""
    validate_host_name(name)
    with repo_lock(_lock()):
        hosts = load_hosts()
        if name in hosts:
            raise AgentmuxError(
                f"there is already a host named {name!r} ({hosts[name].target}); remove it "
                f"first with `agentmux host rm {name}`."
            )
        hosts[name] = entry
        _write(hosts)


def remove_host(name: str) -> HostEntry:
    """Forget host ``name`` and return what it was; one sentence when there is none."""
    validate_host_name(name)
    with repo_lock(_lock()):
        entry = get_host(name)
        hosts = load_hosts()
        del hosts[name]
        _write(hosts)
    return entry
