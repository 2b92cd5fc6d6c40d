"""Safety limits for rendering user-supplied Liquid.

Task code is pasted in by users, so a render must be bounded in time, output and
nesting. The numbers are generous enough for every library task (bulk operation
results run into tens of thousands of objects) while stopping runaway templates.
"""

from __future__ import annotations

from contextvars import ContextVar

from .errors import RenderLimitError

# Product of nested loop lengths allowed at any point (python-liquid semantics).
LOOP_ITERATION_LIMIT = 1_000_000
# Characters of rendered output (the JSON object stream); 50 MB holds large CSV or
# email bodies with room to spare.
OUTPUT_STREAM_LIMIT = 50 * 1024 * 1024
# Block nesting depth ({% if %} inside {% for %} ...), checked at parse time.
BLOCK_NESTING_LIMIT = 60
# Scope depth (each loop pushes a scope).
CONTEXT_DEPTH_LIMIT = 60
# Wall-clock seconds of Liquid evaluation per render. Time spent waiting for the
# `shopify` filter's GraphQL client is not counted: the network is the engine's
# concern (timeouts, rate limits), the limit is about runaway templates.
RENDER_TIME_LIMIT_SECONDS = 20.0
# Memory a render may build, counted in characters of the strings it produces
# (arrays count 8 per item, the size of a reference). Python's own memory
# accounting is too slow to consult on every assignment, and an OS limit would
# take the worker down with the render; instead the places that can grow a value
# check before building it: `append`/`prepend`/`join`/`replace` (the only
# filters whose result can be much larger than their inputs), and `assign`/
# `capture`, which keep a running total of what the render's variables hold.
# A runaway render (say, doubling a string in a loop) stops with RenderLimitError
# before it allocates more than a few times this budget.
RENDER_MEMORY_LIMIT_CHARS = 64 * 1024 * 1024
# Renders for `mechanic/shopify/bulk_operation` may keep much of the result (Mechanic gives them
# more memory); the objects themselves are read lazily and do not count.
BULK_RENDER_MEMORY_LIMIT_CHARS = 512 * 1024 * 1024

memory_limit: ContextVar[int] = ContextVar("ratchet_render_memory_limit", default=RENDER_MEMORY_LIMIT_CHARS)


def check_size(chars: int, what: str) -> None:
    """Refuse to build a value of `chars` characters beyond the render's budget."""
    limit = memory_limit.get()
    if chars > limit:
        raise RenderLimitError(
            f"render memory limit reached: {what} would hold {chars:,} characters "
            f"(limit {limit:,} per task run); build smaller values or split the work across runs"
        )


def value_size(value: object) -> int:
    """Characters a value holds, counting one level into arrays and hashes."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, (list, tuple)):
        return 8 * len(value) + sum(len(item) for item in value if isinstance(item, str))
    if isinstance(value, dict):
        return 16 * len(value) + sum(len(item) for item in value.values() if isinstance(item, str))
    return 8
