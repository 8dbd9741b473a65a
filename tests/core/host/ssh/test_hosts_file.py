"""The user's hosts file (``hosts.toml``): names, targets and commands validated, one sentence
for each bad input naming the file and line, written whole and private, read back exactly."""

from __future__ import annotations

import stat
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agentmux.core.config.hosts import (
    HostEntry,
    add_host,
    get_host,
    hosts_path,
    load_hosts,
    make_entry,
    remove_host,
    render_hosts,
    validate_host_name,
)
from agentmux.core.config.settings import load_config
from agentmux.core.errors import AgentmuxError
from tests.conftest import Home


def test_add_get_remove(home: Home) -> None:
    assert load_hosts() == {}
    assert not hosts_path().exists()
    entry = make_entry("me@build1.example.com", ssh_command="ssh -F /etc/amx/ssh_config")
    add_host("build1", entry)
    add_host("gpu_2", make_entry("gpu2", agentmux="/opt/agentmux/bin/agentmux", path="/srv/x"))
    assert hosts_path() == home.root / "config" / "agentmux" / "hosts.toml"
    assert stat.S_IMODE(hosts_path().stat().st_mode) == 0o600
    assert get_host("build1") == entry
    assert entry.ssh_argv() == ["ssh", "-F", "/etc/amx/ssh_config"]
    assert get_host("gpu_2").ssh_argv() == ["ssh"]
    assert list(load_hosts()) == ["build1", "gpu_2"]
    # The file is plain TOML a person can read and edit.
    assert tomllib.loads(hosts_path().read_text())["hosts"]["gpu_2"] == {
        "target": "gpu2",
        "agentmux": "/opt/agentmux/bin/agentmux",
        "path": "/srv/x",
    }
    assert remove_host("build1") == entry
    assert list(load_hosts()) == ["gpu_2"]


def test_duplicates_and_unknown_names(home: Home) -> None:
    add_host("build1", make_entry("build1"))
    with pytest.raises(AgentmuxError) as caught:
        add_host("build1", make_entry("other"))
    assert caught.value.message == (
        "there is already a host named 'build1' (build1); remove it first with "
        "`agentmux host rm build1`."
    )
    with pytest.raises(AgentmuxError) as caught:
        get_host("nope")
    assert caught.value.message == (
        "there is no host named 'nope' (known: build1): add it with "
        "`agentmux host add nope TARGET`."
    )
    with pytest.raises(AgentmuxError, match="there is no host named 'nope'"):
        remove_host("nope")


NOT_ALLOWED = "is not allowed: use letters, digits, '-' and '_', starting with a letter or digit."


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "a host name cannot be empty."),
        ("a" * 33, f"host name {'a' * 33!r}... is too long: at most 32 characters."),
        ("a b", f"host name 'a b' {NOT_ALLOWED}"),
        ("-x", f"host name '-x' {NOT_ALLOWED}"),
        ("a.b", f"host name 'a.b' {NOT_ALLOWED}"),
        ("a/b", f"host name 'a/b' {NOT_ALLOWED}"),
        ("local", "host name 'local' is taken: it names this machine; choose another name."),
    ],
)
def test_bad_names(home: Home, name: str, message: str) -> None:
    with pytest.raises(AgentmuxError) as caught:
        validate_host_name(name)
    assert caught.value.message == message
    with pytest.raises(AgentmuxError):
        add_host(name, make_entry("build1"))
    assert not hosts_path().exists()


@pytest.mark.parametrize(
    "target",
    ["build1", "me@build1.example.com", "10.0.0.7", "[::1]", "fe80::1%eth0", "a_b-c", "u.v@w"],
)
def test_good_targets(target: str) -> None:
    assert make_entry(target).target == target


@pytest.mark.parametrize(
    "target",
    ["", "-oProxyCommand=touch /tmp/x", "a b", "$(id)", "a;b", "`id`", "a|b", "me@", "@x", "a\nb"],
)
def test_bad_targets(target: str) -> None:
    with pytest.raises(AgentmuxError) as caught:
        make_entry(target)
    assert caught.value.message.startswith(f"TARGET: {target!r} is not an ssh destination")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"ssh_command": "ssh -F 'unclosed"},
            '--ssh-command: "ssh -F \'unclosed" cannot be split into words: No closing quotation.',
        ),
        ({"ssh_command": "   "}, "--ssh-command: an ssh command cannot be empty."),
        (
            {"ssh_command": "-F x"},
            "--ssh-command: '-F x' must start with the ssh program, not an option.",
        ),
        (
            {"ssh_command": "ssh\n-v"},
            "--ssh-command: an ssh command cannot hold control characters.",
        ),
        ({"agentmux": "-c"}, "--agentmux: '-c' is not a program path."),
        ({"agentmux": " "}, "--agentmux: ' ' is not a program path."),
        (
            {"agentmux": "~/bin/agentmux"},
            "--agentmux: '~/bin/agentmux' starts with '~', which is not expanded: give an "
            "absolute path, or one relative to the home directory there.",
        ),
        ({"path": "a\x00b"}, "--path: 'a\\x00b' is not a directory path."),
    ],
)
def test_bad_options(options: dict[str, str], message: str) -> None:
    with pytest.raises(AgentmuxError) as caught:
        make_entry("build1", **options)
    assert caught.value.message == message


def test_an_ssh_command_is_split_like_a_shell_but_never_expanded() -> None:
    entry = make_entry("b", ssh_command="ssh -F '/path with/space' -o \"SendEnv=$(id)\" ~/x")
    assert entry.ssh_argv() == ["ssh", "-F", "/path with/space", "-o", "SendEnv=$(id)", "~/x"]


BAD_TARGET = (
    "'-oProxyCommand=x' is not an ssh destination agentmux accepts: give [user@]host or an "
    "alias from your ssh config (letters, digits, '.', '-', '_', ':' and '[]' only)."
)
ERROR_IN = "config error in {path}"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "[hosts.b1]\ntarget = 3\n",
            f"{ERROR_IN}, line 2: hosts.b1.target: Input should be a valid string.",
        ),
        (
            '[hosts.b1]\ntarget = "b1"\ncolour = "red"\n',
            f"{ERROR_IN}, line 3: hosts.b1.colour: Extra inputs are not permitted.",
        ),
        ('[hosts.b1]\nagentmux = "x"\n', f"{ERROR_IN}, line 1: hosts.b1.target: Field required."),
        (
            '[hosts."a b"]\ntarget = "x"\n',
            f"{ERROR_IN}: hosts: Value error, host name 'a b' {NOT_ALLOWED}",
        ),
        (
            '[hosts.b1]\ntarget = "-oProxyCommand=x"\n',
            f"{ERROR_IN}, line 2: hosts.b1.target: Value error, {BAD_TARGET}",
        ),
        (
            "[hosts.b1\n",
            "hosts file {path} is not valid TOML: Expected ']' at the end of a table declaration "
            "(at line 1, column 10).",
        ),
        ("hosts = 1\n", f"{ERROR_IN}, line 1: hosts: Input should be a valid dictionary."),
    ],
)
def test_a_hand_edited_file_names_file_and_line(home: Home, text: str, message: str) -> None:
    hosts_path().parent.mkdir(parents=True, exist_ok=True)
    hosts_path().write_text(text)
    with pytest.raises(AgentmuxError) as caught:
        load_hosts()
    assert caught.value.message == message.format(path=hosts_path())


def test_not_utf8(home: Home) -> None:
    hosts_path().parent.mkdir(parents=True, exist_ok=True)
    hosts_path().write_bytes(b'[hosts.b1]\ntarget = "\xff"\n')
    with pytest.raises(AgentmuxError, match=r"hosts file .* is not valid UTF-8\."):
        load_hosts()


def test_a_repository_config_cannot_name_hosts(repo: Path) -> None:
    """Hosts come from the user's own directory only: a cloned repository never chooses where
    agentmux logs in or which ssh command it runs."""
    (repo / "agentmux.toml").write_text('[hosts.evil]\ntarget = "attacker.example"\n')
    with pytest.raises(AgentmuxError) as caught:
        load_config(repo)
    assert "hosts: Extra inputs are not permitted" in caught.value.message


_TEXT = st.text(
    st.characters(blacklist_categories=("Cc", "Cs"), blacklist_characters="\x7f"), min_size=1
).filter(lambda s: s.strip() != "")


@settings(max_examples=200, deadline=None)
@given(path=_TEXT, agentmux=_TEXT.filter(lambda s: not s.startswith(("-", "~"))))
def test_what_is_written_reads_back_exactly(path: str, agentmux: str) -> None:
    entry = HostEntry(target="me@b1", agentmux=agentmux, path=path, ssh_command="ssh -v")
    text = render_hosts({"b1": entry, "a": HostEntry(target="a")})
    data = tomllib.loads(text)["hosts"]
    assert list(data) == ["a", "b1"]
    assert HostEntry.model_validate(data["b1"]) == entry
