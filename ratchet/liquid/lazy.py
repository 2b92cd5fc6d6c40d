"""Arrays the engine hands to Liquid without building them in memory.

`bulkOperation.objects` can hold millions of result lines; it is a `LazySequence` read from its
file on demand. `for` loops and array filters iterate it item by item and never copy it whole;
filters that build a new array (`push`, `in_groups_of`, ...) get a list of its items.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class LazySequence(Sequence[Any]):
    """Marker base: a read-only array whose items are produced when asked for."""
