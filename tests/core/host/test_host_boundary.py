"""The Host boundary holds beyond imports (import-linter checks those): outside the host package
and the rooms it composes (tmux, git), no code runs git in a session's worktree, touches its files
or starts processes of its own on the session's machine."""

from __future__ import annotations

import ast
from pathlib import Path

import agentmux

ROOT = Path(agentmux.__file__).parent
#: The code above the Host boundary: it asks the host, it never acts on the machine itself.
ABOVE = [
    ROOT / "core" / "sessions",
    ROOT / "core" / "agents",
    ROOT / "core" / "metrics",
    ROOT / "commands",
    ROOT / "ui",
    ROOT / "cli.py",
]
FILE_CALLS = {
    "exists",
    "is_dir",
    "is_file",
    "is_symlink",
    "mkdir",
    "rmdir",
    "unlink",
    "iterdir",
    "glob",
    "rglob",
    "read_text",
    "read_bytes",
    "write_text",
    "write_bytes",
    "touch",
    "stat",
}
GIT_CALLS = {"run_git", "git_out"}
#: Modules that start or end processes on a machine; cli and commands start agentmux itself.
PROCESS_MODULES = {"psutil", "libtmux", "subprocess"}
MAY_SPAWN_AGENTMUX = {"cli.py", "common.py", "hook.py", "resume.py"}


def modules() -> list[Path]:
    found: list[Path] = []
    for place in ABOVE:
        found += [place] if place.is_file() else sorted(place.rglob("*.py"))
    return found


def called_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def violations(path: Path, top: Path = ROOT.parent) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: list[str] = []
    where = path.relative_to(top)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            names += [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for module in names:
                package = module.split(".")[0]
                in_core = "core" in where.parts
                if package in PROCESS_MODULES and (in_core or path.name not in MAY_SPAWN_AGENTMUX):
                    found.append(f"{where}:{node.lineno} imports {module}")
        if not isinstance(node, ast.Call):
            continue
        called = called_name(node)
        if called in FILE_CALLS and isinstance(node.func, ast.Attribute):
            receiver = ast.unparse(node.func.value)
            if "worktree" in receiver.lower():
                found.append(f"{where}:{node.lineno} {receiver}.{called}()")
        if called in GIT_CALLS:
            parts = [*node.args[1:], *(k.value for k in node.keywords if k.arg == "cwd")]
            for arg in parts:
                if "worktree" in ast.unparse(arg).lower():
                    found.append(f"{where}:{node.lineno} {called}(... {ast.unparse(arg)})")
    return found


def test_nothing_above_the_host_touches_a_worktree_or_starts_processes() -> None:
    found = [v for path in modules() for v in violations(path)]
    assert found == []


def test_the_check_sees_what_it_forbids(tmp_path: Path) -> None:
    bad = tmp_path / "agentmux" / "core" / "sessions" / "probe.py"
    bad.parent.mkdir(parents=True)
    source = (
        "import psutil\n"
        "from pathlib import Path\n"
        "from agentmux.core.git.repo import run_git\n"
        "def f(worktree: Path) -> None:\n"
        "    worktree.mkdir()\n"
        "    run_git(['status'], worktree)\n"
    )
    bad.write_text(source)
    found = violations(bad, tmp_path)
    assert len(found) == 3, found
