"""Budgets and metrics of live sessions: each session's spend read from its agent's transcripts,
and a budget that, once reached, interrupts the agent and refuses further prompts.

How spend is counted lives in :mod:`agentmux.core.metrics`; this applies it to the sessions of one
repository. Spend is checked before every prompt too, so a cap holds with no TUI running.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from agentmux.core.agents.events import AGENT_EVENT, PROMPT_SENT
from agentmux.core.agents.held_prompts import HELD, RELEASED
from agentmux.core.errors import AgentmuxError
from agentmux.core.locking import repo_lock
from agentmux.core.metrics.budgets import BudgetState, budget_states, level
from agentmux.core.metrics.collector import MetricsCollector, SessionMetrics
from agentmux.core.metrics.runs import RESUMED
from agentmux.core.records import SessionRecord, Status

if TYPE_CHECKING:
    from agentmux.core.sessions.manager import SessionManager


class Budgets:
    """The budgets and metrics of one :class:`SessionManager`'s sessions."""

    def __init__(self, manager: SessionManager) -> None:
        self.manager = manager

    def states(self) -> dict[str, BudgetState]:
        """Each session's budget, and whether it was reached."""
        return budget_states(self.manager.store.events(kinds=("budget", "budget_reached")))

    def set(self, name: str, usd: Decimal) -> SessionRecord:
        """See :meth:`SessionManager.set_budget`."""
        record = self.manager.get(name)
        self.manager.store.record_event(record.id, "budget", {"usd": str(usd)})
        return record

    def check(self, record: SessionRecord) -> None:
        """Refuse a prompt for a session whose budget is reached (checking its spend first)."""
        m = self.manager
        state = m.budget_states().get(record.id)
        if state is not None and not state.reached:
            # Spend is checked before every prompt, so a cap holds even with no TUI running.
            m.enforce_budgets(m.metrics_collector().collect([record], {record.id: state.usd}))
            state = m.budget_states().get(record.id)
        if state is not None and state.reached:
            raise AgentmuxError(
                f"{record.name} reached its ${state.usd} budget; agentmux sends it no more "
                f"prompts (raise it with `agentmux budget {record.name} USD`)."
            )

    def metrics(
        self, records: list[SessionRecord], collector: MetricsCollector | None
    ) -> list[SessionMetrics]:
        """See :meth:`SessionManager.metrics`."""
        m = self.manager
        budgets = {sid: state.usd for sid, state in m.budget_states().items()}
        if collector is None:
            # One report from scratch (the CLI): read every transcript in bulk, on every core.
            collector = m.metrics_collector()
            collector.preload(records)
        # Only the events since the collector's last look: a refresh never re-reads history.
        kinds = (AGENT_EVENT, PROMPT_SENT, HELD, RELEASED, RESUMED)
        collector.feed_events(m.store.events(kinds=kinds, after_id=collector.last_event_id))
        return collector.collect(records, budgets)

    def collector(self) -> MetricsCollector:
        """See :meth:`SessionManager.metrics_collector`."""
        m = self.manager
        # Transcripts are where the host's environment (and the session's profile) says.
        return MetricsCollector(m.host.environ(), env_of=lambda record: m.profile_of(record).env)

    def enforce(self, metrics: Sequence[SessionMetrics]) -> list[str]:
        """See :meth:`SessionManager.enforce_budgets`."""
        m = self.manager
        states = m.budget_states()
        stopped: list[str] = []
        for metric in metrics:
            state = states.get(metric.record.id)
            if state is None or state.reached or level(metric.budget_used) != "reached":
                continue
            record = metric.record
            # One stop per session, decided under a lock: the TUI's metrics worker, `cost` and
            # `send` can all see the cap at once, and a second interrupt at an idle prompt
            # quits the agent (Ctrl-C twice ends the demo agent, as it ends Claude Code).
            with repo_lock(m.lock_file("budget", record.id)):
                state = m.budget_states().get(record.id)
                if state is None or state.reached:
                    continue
                # The metrics' record may be old (a TUI's): the store and tmux say what is true
                # now, and the keys go only to the pane tagged with this session's id.
                pane = m.panes_by_session().get(record.id)
                running = m.store.session(record.id).status is Status.RUNNING
                if running and pane is not None and m.turns.may_be_in_turn(record):
                    keys = m.profile_of(record).interrupt_keys
                    m.host.send_keys_tagged(pane.pane_id, record.id, *keys)
                spent = metric.cost.known if metric.cost is not None else None
                m.store.record_event(
                    record.id, "budget_reached", {"usd": str(state.usd), "spent": str(spent)}
                )
            stopped.append(record.name)
        return stopped
