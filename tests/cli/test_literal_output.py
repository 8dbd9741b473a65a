"""User data is printed literally: paths, file names and agent commands with Rich markup or
emoji codes in them come out as they are, and never end in an internal error."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from tests.conftest import CliResult, git, run_cli


def make_repo(root: Path) -> Path:
    root.mkdir(parents=True)
    git(root, "init", "--quiet", "--initial-branch=main")
    (root / "README.md").write_text("hello\n")
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "initial [b]commit[/b]")
    return root


def ok(result: CliResult) -> CliResult:
    assert result.code == 0, result.err
    assert "internal error" not in result.err
    return result


def one_line(text: str) -> str:
    """Output with line breaks removed, to find a path a table may have wrapped."""
    return "".join(line.strip() for line in text.splitlines())


@pytest.mark.parametrize("parts", [("a[", "b]", "r"), ("proj [wip] :fire:",)])
def test_doctor_prints_a_repository_path_literally(tmp_path: Path, parts: tuple[str, ...]) -> None:
    repo = make_repo(tmp_path.joinpath(*parts))
    assert ok(run_cli(repo, "new", "--agent", "demo", "--name", "one")).err
    result = ok(run_cli(repo, "doctor"))
    assert f"{repo}/.git/agentmux/state.db: 1 session(s)" in result.out


def test_an_agent_program_and_config_values_are_printed_literally(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "plain")
    user = Path(os.environ["XDG_CONFIG_HOME"]) / "agentmux"
    user.mkdir(parents=True)
    (user / "config.toml").write_text('[agents.odd]\ncommand = ["/no/such/[b]agent[/b] :fire:"]\n')
    result = ok(run_cli(repo, "doctor"))
    assert "warn agent odd: '/no/such/[b]agent[/b] :fire:' is not installed" in result.out
    refused = run_cli(repo, "new", "--agent", "odd")
    assert refused.code == 1 and "'/no/such/[b]agent[/b] :fire:'" in refused.err
    (user / "config.toml").write_text('theme = "[b]x[/b]"\nmax_sessions = "[/b]"\n')
    bad = run_cli(repo, "new", "--agent", "demo")
    assert bad.code == 1 and "[/b]" not in bad.err.replace(str(user), "")
    assert f"config error in {user}/config.toml, line 2: max_sessions" in bad.err


@pytest.mark.slow
def test_every_verb_prints_paths_and_file_names_literally(tmp_path: Path) -> None:
    # Long enough that a line holding the worktree path is over 200 columns.
    repo = make_repo(tmp_path / "a[" / "b]" / ("[bold]proj [wip] :fire: " + "x" * 60))
    made = ok(run_cli(repo, "new", "--agent", "demo", "--name", "one"))
    worktree = Path(json.loads(ok(run_cli(repo, "ls", "--json")).out)[0]["worktree"])
    assert "[bold]proj [wip] :fire: x" in str(worktree)
    assert f"one: running on agentmux/one in {worktree}\n" in made.out
    ok(run_cli(repo, "new", "--agent", "demo", "--name", "two"))
    listed = ok(run_cli(repo, "ls"))
    assert str(worktree) in one_line(listed.out)

    name = "[b]both[/b] :fire:.txt"  # a file in a directory `[b]both[`
    other = worktree.parent / "two"
    for where, text in ((worktree, "one\n"), (other, "two\n")):
        (where / name).parent.mkdir()
        (where / name).write_text(text)
    conflicts = run_cli(repo, "conflicts")
    assert conflicts.code == 1, conflicts.err
    assert f"  {name} (" in conflicts.out

    git(worktree, "add", "--all")
    git(worktree, "commit", "--quiet", "-m", "[red]one[/red]")
    merged = ok(run_cli(repo, "merge", "one", "--keep"))
    assert "merged one into main" in merged.out
    assert (repo / name).read_text() == "one\n"

    cost = ok(run_cli(repo, "cost"))
    assert "one" in cost.out and "two" in cost.out
    removed = ok(run_cli(repo, "rm", "two", "--force"))
    assert "refs/agentmux/archive/two/" in removed.err
    assert not other.exists()

    demo_dir = tmp_path / "demo [wip] :fire:"
    demo = ok(run_cli(tmp_path, "demo", "--no-tui", "--dir", str(demo_dir), "--sessions", "1"))
    assert f"demo repository: {demo_dir}\n" in demo.out
    assert f"  cd {demo_dir}\n" in demo.out


def test_conflicts_in_a_repository_under_a_path_with_a_colon(tmp_path: Path) -> None:
    # git reads GIT_ALTERNATE_OBJECT_DIRECTORIES as a colon-separated list.
    repo = make_repo(tmp_path / "work:tree" / "proj")
    made = []
    for name in ("one", "two"):
        ok(run_cli(repo, "new", "--agent", "demo", "--name", name))
        made.append(Path(json.loads(ok(run_cli(repo, "ls", "--json")).out)[-1]["worktree"]))
    for where in made:
        (where / "README.md").write_text(f"{where.name}\n")
    result = run_cli(repo, "conflicts", "--json")
    assert result.code == 1, result.out
    pair = json.loads(result.out)["pairs"][0]
    assert pair["verdict"] == "conflict", pair
