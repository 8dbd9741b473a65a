"""Themes are data: TOML files in ``themes/`` (shipped) and the user's config dir."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from textual.app import App
from textual.theme import Theme

from agentmux.core.paths import config_dir

DEFAULT_THEME = "agentmux-dark"
# Used only if the shipped default theme is missing; it normally supplies these.
FALLBACK_VARIABLES = {
    "status-starting": "#7dcfff",
    "status-working": "#9ece6a",
    "status-waiting": "#e0af68",
    "status-idle": "#808080",
    "status-exited": "#a9b1d6",
    "status-failed": "#f7768e",
    "status-queued": "#bb9af7",
    "pane-border": "#606060",
    "pane-border-focused": "#7aa2f7",
    "pane-border-insert": "#e0af68",
}
_FIELDS = (
    "primary",
    "secondary",
    "warning",
    "error",
    "success",
    "accent",
    "foreground",
    "background",
    "surface",
    "panel",
    "boost",
)


def shipped_theme_dir() -> Path:
    """``themes/`` inside the installed package (wheel), else at the source tree's top."""
    inside = Path(__file__).resolve().parents[1] / "themes"
    return inside if inside.is_dir() else Path(__file__).resolve().parents[2] / "themes"


@dataclass
class ThemeSet:
    """Every theme that loaded, and a sentence for each file that did not."""

    themes: dict[str, Theme] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load_theme(path: Path) -> Theme:
    """Parse one theme file; ValueError with a sentence when it is broken."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"theme file {path} is broken ({exc})") from exc
    name = data.get("name")
    primary = data.get("primary")
    if not isinstance(name, str) or not isinstance(primary, str):
        raise ValueError(f"theme file {path} needs a 'name' and a 'primary' colour")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise ValueError(f"theme file {path}: [variables] must be a table")
    kwargs = {key: data[key] for key in _FIELDS if isinstance(data.get(key), str)}
    try:
        theme = Theme(
            name=name,
            dark=bool(data.get("dark", True)),
            variables={str(k): str(v) for k, v in variables.items()},
            **kwargs,
        )
        theme.to_color_system()  # fails here, not mid-render, on a bad colour
    except Exception as exc:
        raise ValueError(f"theme file {path} has a bad value ({exc})") from exc
    return theme


def load_themes() -> ThemeSet:
    """Shipped themes, then the user's (``<config dir>/themes/*.toml``), which may override."""
    found = ThemeSet()
    for folder in (shipped_theme_dir(), config_dir() / "themes"):
        for path in sorted(folder.glob("*.toml")) if folder.is_dir() else []:
            try:
                theme = load_theme(path)
            except ValueError as exc:
                found.problems.append(str(exc))
                continue
            found.themes[theme.name] = theme
    return found


def use_themes(app: App[None], found: ThemeSet, wanted: str | None) -> list[str]:
    """Register ``found`` with ``app`` and switch to ``wanted`` (default: the shipped default);
    return a sentence for each problem (broken files, an unknown name)."""
    for loaded in found.themes.values():
        app.register_theme(loaded)
    problems = list(found.problems)
    name = wanted or DEFAULT_THEME
    if name not in found.themes and name not in app.available_themes:
        problems.append(f"no theme named {name!r}; using {DEFAULT_THEME}")
        name = DEFAULT_THEME
    if name in app.available_themes:
        app.theme = name
    return problems
