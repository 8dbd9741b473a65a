"""Every verb's help renders: the top level in the real CLI, and each verb the parser knows."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from agentmux.cli import build_parser
from tests.conftest import run_cli


def verb_parsers() -> dict[str, argparse.ArgumentParser]:
    """Every verb's parser, found in the parser itself, so a new verb is covered by itself."""
    parser = build_parser()
    found = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert len(found) == 1
    choices: dict[str, argparse.ArgumentParser] = found[0].choices
    return choices


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_top_level_help_in_the_real_cli(tmp_path: Path, flag: str) -> None:
    result = run_cli(tmp_path, flag)
    assert result.code == 0, result.err
    assert result.err == ""
    assert "usage: agentmux" in result.out
    for name in verb_parsers():
        if not name.startswith("_"):
            assert name in result.out


def test_every_verb_renders_its_help() -> None:
    verbs = verb_parsers()
    assert {"new", "ls", "budget", "cost", "merge", "trust"} <= set(verbs)
    for name, parser in verbs.items():
        text = parser.format_help()
        assert f"agentmux {name}" in text, name


def test_a_verb_help_in_the_real_cli(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "budget", "--help")
    assert result.code == 0, result.err
    assert "80%" in result.out


def test_a_percent_reads_the_same_in_the_list_and_the_verb_help(tmp_path: Path) -> None:
    listed = run_cli(tmp_path, "--help").out
    own = run_cli(tmp_path, "budget", "--help").out
    assert "%%" not in listed and "%%" not in own
    assert "80%" in " ".join(listed.split()) and "80%" in own
