"""Modal screens: new session, broadcast, confirm, help."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static, TextArea

from agentmux.core.records import LOCAL_HOST

MODAL_CSS = """
ModalScreen { align: center middle; }
ModalScreen > Vertical {
    width: 80; height: auto; max-height: 90%;
    border: round $primary; background: $panel; padding: 1 2;
}
ModalScreen Label { margin-top: 1; }
ModalScreen TextArea { height: 6; }
ModalScreen Horizontal { height: auto; margin-top: 1; align-horizontal: right; }
ModalScreen Button { margin-left: 2; }
"""


@dataclass(frozen=True)
class NewSessionRequest:
    """What the user asked for in the new-session form."""

    agent: str
    name: str | None
    base: str | None
    prompt: str | None
    count: int
    host: str = LOCAL_HOST


@dataclass(frozen=True)
class BroadcastRequest:
    """A prompt and who gets it: ``all``, ``idle`` or ``selected``."""

    text: str
    to: str


class NewSessionScreen(ModalScreen[NewSessionRequest | None]):
    """Form for `n`: agent, name, base, prompt, count, and the host when there are hosts."""

    DEFAULT_CSS = MODAL_CSS
    AUTO_FOCUS = "#prompt"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Start"),
    ]

    def __init__(
        self, agents: list[str], default_agent: str, hosts: list[str] | None = None
    ) -> None:
        super().__init__()
        self.agents = agents
        self.default_agent = default_agent
        self.hosts = hosts or []

    def compose(self) -> ComposeResult:
        """The form."""
        with Vertical():
            yield Static("[b]New session[/b]  (Ctrl+S starts, Esc cancels)")
            yield Label("Agent")
            yield Select(
                [(a, a) for a in self.agents],
                value=self.default_agent,
                allow_blank=False,
                id="agent",
            )
            yield Label("Name (empty: automatic)")
            yield Input(placeholder="fix-tests", id="name")
            yield Label("Base branch or commit (empty: current HEAD)")
            yield Input(placeholder="main", id="base")
            yield Label("Prompt")
            yield TextArea(id="prompt")
            yield Label("How many (1-9)")
            yield Input(value="1", id="count", restrict=r"[1-9]?")
            if self.hosts:
                yield Label("Where it runs")
                choices = [("this machine", LOCAL_HOST), *((f"host {h}", h) for h in self.hosts)]
                yield Select(choices, value=LOCAL_HOST, allow_blank=False, id="host")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Start", variant="primary", id="start")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Start or cancel."""
        if event.button.id == "start":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        """Send the form."""
        agent = self.query_one("#agent", Select).value
        name = self.query_one("#name", Input).value.strip() or None
        base = self.query_one("#base", Input).value.strip() or None
        prompt = self.query_one("#prompt", TextArea).text.strip() or None
        count_text = self.query_one("#count", Input).value.strip() or "1"
        host = str(self.query_one("#host", Select).value) if self.hosts else LOCAL_HOST
        self.dismiss(NewSessionRequest(str(agent), name, base, prompt, int(count_text), host))

    def action_cancel(self) -> None:
        """Close without starting anything."""
        self.dismiss(None)


class BroadcastScreen(ModalScreen[BroadcastRequest | None]):
    """Form for `b`: one prompt to all, the selected, or every idle session."""

    DEFAULT_CSS = MODAL_CSS
    AUTO_FOCUS = "#text"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+s", "submit", "Send"),
    ]

    def __init__(self, selected: int) -> None:
        super().__init__()
        self.selected = selected

    def compose(self) -> ComposeResult:
        """The form."""
        options = [("all running sessions", "all"), ("every idle session", "idle")]
        if self.selected:
            options.insert(0, (f"the {self.selected} selected sessions", "selected"))
        with Vertical():
            yield Static("[b]Broadcast[/b]  (Ctrl+S sends, Esc cancels)")
            yield Label("To")
            yield Select(options, value=options[0][1], allow_blank=False, id="to")
            yield Label("Prompt")
            yield TextArea(id="text")
            with Horizontal():
                yield Button("Cancel", id="cancel")
                yield Button("Send", variant="primary", id="send")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Send or cancel."""
        if event.button.id == "send":
            self.action_submit()
        else:
            self.dismiss(None)

    def action_submit(self) -> None:
        """Send the prompt (an empty one sends nothing)."""
        text = self.query_one("#text", TextArea).text.strip()
        to = str(self.query_one("#to", Select).value)
        self.dismiss(BroadcastRequest(text, to) if text else None)

    def action_cancel(self) -> None:
        """Close without sending."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,n", "no", "No"),
        Binding("y", "yes", "Yes"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        """The question and two buttons."""
        with Vertical():
            yield Static(self.question)
            with Horizontal():
                yield Button("No (n)", id="no")
                yield Button("Yes (y)", variant="error", id="yes")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer."""
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        """Answer yes."""
        self.dismiss(True)

    def action_no(self) -> None:
        """Answer no."""
        self.dismiss(False)


class HelpScreen(ModalScreen[None]):
    """Every key binding."""

    DEFAULT_CSS = MODAL_CSS
    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape,q,question_mark", "close", "Close")]

    def __init__(self, rows: list[tuple[str, str]]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        """The key table."""
        lines = "\n".join(f"[b]{key:>14}[/b]  {text}" for key, text in self.rows)
        with Vertical():
            yield Static("[b]agentmux keys[/b]\n\n" + lines + "\n\nEsc closes this help.")

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)
