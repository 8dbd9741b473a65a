"""Sessions: the lifecycle that composes everything below it (create, queue, start, deliver,
reconcile, stop, resume, review, commit, remove) behind SessionManager.

:class:`~agentmux.core.sessions.manager.SessionManager` is a small facade; the work is done by
its collaborators, one module each: ``lifecycle`` (create, start, undo, the queue's drain),
``teardown`` (stop, remove, over ``removal``), ``reconcile`` (records brought in line with tmux),
``delivery`` (first prompt, send, broadcast), ``held`` (prompts held during a turn), ``turns``
(is an agent in a turn), ``budgets`` (budgets and metrics), ``merging`` (radar, merge plans,
landing). Beside them: ``names``, ``resume``, ``session_diff``, ``commit_work``, ``doctor``.

The top of core: it may import every other package; nothing in core imports it.
"""
