"""Mechanic's rules as pure code.

Run kinds and states, the retry schedule, topics and subscriptions, routing, task-export
parsing and sample payloads. No database, no network, no Temporal client: everything here
can be read and tested on its own.
"""
