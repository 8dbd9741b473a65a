"""Sessions: the lifecycle that composes everything below it (create, queue, start, deliver,
reconcile, stop, resume, review, commit, remove) behind SessionManager.

The top of core: it may import every other package; nothing in core imports it.
"""
