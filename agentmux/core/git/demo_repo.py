"""The scratch repository ``agentmux demo`` creates, and the prompts its sessions get."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from agentmux.core.errors import AgentmuxError
from agentmux.core.git.repo import error_detail

DEMO_PROMPTS: list[tuple[str, str]] = [
    (
        "greeter",
        "write src/greet.py def greet(name):\\n    return f'Hello, {name}!'\\n\n"
        "commit greet people by name\nsleep 2\nexplain what you changed",
    ),
    (
        "docs",
        "spam 40\nwrite README.md # Demo project\\n\\nNow with better docs.\\n\n"
        "commit improve the README",
    ),
    (
        "rival",
        "write src/greet.py def greet(name):\\n    return 'Hi ' + name\\n\n"
        "sleep 1\ncommit a terser greeting",
    ),
    ("asker", "sleep 1\nask\nwrite notes/todo.md - ship it\\n"),
    ("longrun", "sleep 30\nwrite src/slow.py DONE = True\\n"),
    ("failer", "fail"),
]

_FILES = {
    "README.md": "# Demo project\n\nA scratch repository for the agentmux demo.\n",
    "src/greet.py": "def greet(name):\n    return 'hello ' + name\n",
    "src/__init__.py": "",
    ".gitignore": "__pycache__/\n",
}


def make_demo_repo(target: Path | None) -> Path:
    """Create (or reuse an empty) directory with a small committed project; return its path."""
    if target is None:
        root = Path(tempfile.mkdtemp(prefix="agentmux-demo-"))
    else:
        root = target.expanduser().resolve()
        if root.exists() and any(root.iterdir()):
            raise AgentmuxError(f"{root} is not empty; pick a new directory for the demo.")
        root.mkdir(parents=True, exist_ok=True)
    for rel, text in _FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    for args in (
        ["init", "--quiet", "--initial-branch=main"],
        # Its own identity, so merging in it works on a machine with no git identity set.
        ["config", "user.name", "agentmux demo"],
        ["config", "user.email", "demo@agentmux.invalid"],
        ["add", "--all"],
        ["commit", "--quiet", "-m", "demo project"],
    ):
        proc = subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            detail = error_detail(proc.stderr, proc.returncode)
            raise AgentmuxError(f"could not create the demo repository in {root}: {detail}.")
    return root
