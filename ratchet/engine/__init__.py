"""The Temporal side: the typed contract between starters, workflows and activities, the
connection, the embedded dev server and the scheduler's Temporal Schedules.
"""
