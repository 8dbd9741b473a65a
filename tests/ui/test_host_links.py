"""What the cockpit does when a host's connection changes state."""

from __future__ import annotations

from textual.app import App

from agentmux.ui.host_links import HostLinks


def test_the_first_connection_to_a_host_reconciles_the_grid() -> None:
    """A connection that comes up after the listing that started it stopped waiting: the host's
    panes are only known once the grid reconciles again, so it does at once (without that, every
    pane of the host was drawn at the background rate until the next timed look)."""
    refreshed: list[str] = []
    links = HostLinks(App[None](), lambda _host: None, lambda: refreshed.append("reconcile"))
    links.changed("build1", "connecting")
    assert refreshed == []
    links.changed("build1", "connected")
    assert refreshed == ["reconcile"]
    links.changed("build1", "connected")  # no change, nothing to do
    assert refreshed == ["reconcile"]
