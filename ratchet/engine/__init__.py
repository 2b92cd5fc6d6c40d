"""The Temporal side of Ratchet.

The typed contract between starters, workflows and activities, the connection, the embedded dev
server, Temporal Schedules (scheduler topics, retention), starting the long-lived workflows,
and what operators see of runs (logs, metrics).
"""
