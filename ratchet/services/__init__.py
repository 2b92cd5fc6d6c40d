"""Use cases shared by the CLI, the Python API, ingress and activities.

One module per concern (events, runs, tasks, shops, filters, the shop cache, follow-ups, status,
checks, …), each opening its own sessions on the store.
"""
