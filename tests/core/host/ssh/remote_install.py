"""agentmux installed for the second user, as a person would install it on another machine.

The tester's own virtualenv (and often its Python, e.g. under ``/root/.pyenv``) is not readable
by the second user, and a test must not open it up. So the fixture builds the user a venv of
their own, with no network: ``python -m venv --without-pip`` from a Python the user can run with
the same major.minor version as this one (compiled packages are copied, so the ABI must match),
then copies into its site-packages this checkout's ``agentmux`` package and every distribution
agentmux needs at run time (its ``Requires-Dist`` closure, read from the installed metadata: no
test or lint tools). ``bin/agentmux`` is a two-line wrapper that runs ``python -m agentmux``.

It works on a fresh CI machine: Debian's ``/usr/bin/python3.X`` (or the tester's Python, when the
second user can run it) does; when none of the same version exists the test fails with one
sentence saying which Python to install.
"""

from __future__ import annotations

import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

import agentmux


def _key(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def runtime_closure(root: str = "agentmux") -> list[metadata.Distribution]:
    """The distributions ``root`` needs at run time (not ``root`` itself), extras left out."""
    seen = {_key(root)}
    todo = [root]
    found: list[metadata.Distribution] = []
    while todo:
        dist = metadata.distribution(todo.pop())
        for line in dist.requires or []:
            req = Requirement(line)
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            if _key(req.name) not in seen:
                seen.add(_key(req.name))
                todo.append(req.name)
                found.append(metadata.distribution(req.name))
    return found


def python_for(user: pwd.struct_passwd) -> str:
    """A Python with this one's major.minor that ``user`` can run; one sentence when none."""
    want = f"{sys.version_info.major}.{sys.version_info.minor}"
    candidates = [
        getattr(sys, "_base_executable", sys.executable),
        f"/usr/bin/python{want}",
        f"/usr/local/bin/python{want}",
        shutil.which(f"python{want}") or "",
    ]
    for candidate in dict.fromkeys(c for c in candidates if c and os.path.exists(c)):
        proc = subprocess.run(
            [
                "runuser",
                "-u",
                user.pw_name,
                "--",
                candidate,
                "-c",
                "import sys; print('%d.%d' % sys.version_info[:2])",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode == 0 and proc.stdout.strip() == want:
            return candidate
    pytest.fail(
        f"no Python {want} that the user {user.pw_name} can run was found (the tests run "
        f"{sys.executable}); install one, e.g. `apt-get install -y python{want}`.",
        pytrace=False,
    )


def _copy_dist(dist: metadata.Distribution, site: Path) -> None:
    for item in dist.files or []:
        relative = Path(str(item))
        if relative.parts[0] == ".." or "__pycache__" in relative.parts:
            continue  # scripts in the tester's bin/ name its Python; caches are remade
        source = Path(str(item.locate()))
        if source.is_file():
            (site / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, site / relative)


def install_agentmux(dest: Path, user: pwd.struct_passwd) -> Path:
    """A venv at ``dest`` holding this checkout's agentmux for ``user``; its ``agentmux``."""
    python = python_for(user)
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True)
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site = dest / "lib" / version / "site-packages"
    for dist in runtime_closure():
        _copy_dist(dist, site)
    package = Path(agentmux.__file__).parent
    shutil.copytree(package, site / "agentmux", ignore=shutil.ignore_patterns("__pycache__"))
    themes = package.parent / "themes"
    if themes.is_dir():  # what the wheel force-includes as agentmux/themes
        shutil.copytree(themes, site / "agentmux" / "themes", dirs_exist_ok=True)
    # As pip does when it installs a wheel: the user cannot write into this root-owned tree,
    # so without bytecode every agentmux the host runs would compile all it imports again.
    subprocess.run(
        [str(dest / "bin" / "python"), "-m", "compileall", "-q", str(site)],
        check=True,
        capture_output=True,
    )
    program = dest / "bin" / "agentmux"
    python_path = shlex.quote(str(dest / "bin" / "python"))
    program.write_text(f'#!/bin/sh\nexec {python_path} -m agentmux "$@"\n')
    program.chmod(0o755)
    return program
