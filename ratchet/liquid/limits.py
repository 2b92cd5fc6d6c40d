"""Safety limits for rendering user-supplied Liquid.

Task code is pasted in by users, so a render must be bounded in time, output and
nesting. The numbers are generous enough for every library task (bulk operation
results run into tens of thousands of objects) while stopping runaway templates.
"""

from __future__ import annotations

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
