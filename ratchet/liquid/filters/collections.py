"""Array and hash filters Mechanic adds.

Push, unshift, keys, values, except, in_groups_of, in_groups, index_by, sample,
sort_naturally, group_by, sum, and the hash forms of `slice` and `compact`.

All return new values and never mutate their input: an input may be event data
shared with other renders (see `tags/assign.py`).
"""

from __future__ import annotations

import random
import re
from typing import Any

from liquid import Environment
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined

from ..lazy import LazySequence
from . import standard


def _nil(value: object) -> bool:
    return value is None or isinstance(value, Undefined)


def as_list(value: object) -> list[Any]:
    if _nil(value):
        return []
    if isinstance(value, list):
        return value
    if isinstance(value, (tuple, range)):
        return list(value)
    if isinstance(value, dict):
        return [[k, v] for k, v in value.items()]
    if isinstance(value, LazySequence):
        return list(value)
    return [value]


def push(value: object, *items: object) -> list[Any]:
    return [*as_list(value), *(None if _nil(i) else i for i in items)]


def unshift(value: object, *items: object) -> list[Any]:
    return [*(None if _nil(i) else i for i in items), *as_list(value)]


def keys(value: object) -> list[Any]:
    if isinstance(value, dict):
        return list(value.keys())
    return []


def values(value: object) -> list[Any]:
    if isinstance(value, dict):
        return list(value.values())
    return []


def except_(value: object, *names: object) -> object:
    """Hash: drop the named keys. Array: drop the given values."""
    if isinstance(value, list):
        return [item for item in value if not any(standard.ruby_equal(item, name) for name in names)]
    if not isinstance(value, dict):
        return value
    drop = {str(n) for n in names}
    return {k: v for k, v in value.items() if str(k) not in drop}


def slice_(value: object, *args: object) -> object:
    """Hash: keep the named keys. Anything else: Liquid's `slice`."""
    if isinstance(value, dict):
        return only(value, *args)
    return standard.slice_(value, *args)


def compact(value: object, prop: object = None) -> object:
    """Hash: drop nil values (top level only). Anything else: Liquid's `compact`."""
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if not _nil(v)}
    return standard.compact(value, prop)


def only(value: object, *names: object) -> object:
    if not isinstance(value, dict):
        return value
    keep = [str(n) for n in names]
    return {k: value[k] for k in keep if k in value}


def _count(n: object, name: str) -> int:
    try:
        count = int(float(str(n)))
    except (TypeError, ValueError) as err:
        raise FilterArgumentError(f"{name}: expected a number, got {n!r}", token=None) from err
    if count < 1:
        raise FilterArgumentError(f"{name}: group size must be at least 1", token=None)
    return count


def in_groups_of(value: object, size: object, *, fill_with: object = None) -> list[list[Any]]:
    """Rails `in_groups_of`: the last group is padded with `fill_with` unless false."""
    items = as_list(value)
    n = _count(size, "in_groups_of")
    groups = [items[i : i + n] for i in range(0, len(items), n)]
    if groups and fill_with is not False and len(groups[-1]) < n:
        pad = None if _nil(fill_with) else fill_with
        groups[-1] = groups[-1] + [pad] * (n - len(groups[-1]))
    return groups


def in_groups(value: object, number: object, *, fill_with: object = None) -> list[list[Any]]:
    """Rails `in_groups`: split into `number` groups of near-equal size."""
    items = as_list(value)
    n = _count(number, "in_groups")
    per, extra = divmod(len(items), n)
    groups: list[list[Any]] = []
    start = 0
    for i in range(n):
        size = per + (1 if i < extra else 0)
        group = items[start : start + size]
        start += size
        if fill_with is not False and extra and i >= extra:
            group = [*group, None if _nil(fill_with) else fill_with]
        groups.append(group)
    return groups


def _lookup(item: object, key: object) -> object:
    if isinstance(item, dict):
        return item.get(key) if not isinstance(key, str) or "." not in key else _dig(item, key)
    return None


def _dig(item: dict[str, Any], path: str) -> object:
    cur: object = item
    for part in path.split("."):
        cur = cur.get(part) if isinstance(cur, dict) else None
    return cur


def index_by(value: object, key: object) -> dict[Any, Any]:
    return {_hashable(_lookup(item, key)): item for item in as_list(value)}


def group_by(value: object, key: object) -> dict[Any, list[Any]]:
    out: dict[Any, list[Any]] = {}
    for item in as_list(value):
        out.setdefault(_hashable(_lookup(item, key)), []).append(item)
    return out


def _hashable(value: object) -> object:
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def sample(value: object, count: object = None) -> object:
    items = as_list(value)
    if count is None or _nil(count):
        return random.choice(items) if items else None
    return random.sample(items, min(len(items), _count(count, "sample")))


_NATURAL = re.compile(r"(\d+)")


def _natural_key(value: object) -> list[Any]:
    # The `naturally` gem: digit runs compare as numbers, text case-sensitively
    # ("Order #10" sorts before "order #2").
    text = "" if _nil(value) else str(value)
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in _NATURAL.split(text) if p]


def sort_naturally(value: object, key: object = None) -> list[Any]:
    items = as_list(value)
    if key is not None and not _nil(key):
        return sorted(items, key=lambda item: _natural_key(_lookup(item, key)))
    return sorted(items, key=_natural_key)


def sum_(value: object, key: object = None) -> int | float:
    """Sum numbers (or numeric strings) in an array, optionally of a property."""
    total: int | float = 0
    for item in as_list(value):
        x = _lookup(item, key) if key is not None and not _nil(key) else item
        if isinstance(x, bool) or _nil(x):
            continue
        if isinstance(x, (int, float)):
            total += x
            continue
        try:
            text = str(x).strip()
            total += int(text) if re.fullmatch(r"-?\d+", text) else float(text)
        except ValueError:
            continue
    return total


def register(env: Environment) -> None:
    env.add_filter("push", push)
    env.add_filter("unshift", unshift)
    env.add_filter("keys", keys)
    env.add_filter("values", values)
    env.add_filter("except", except_)
    env.add_filter("slice", slice_)
    env.add_filter("compact", compact)
    env.add_filter("only", only)
    env.add_filter("in_groups_of", in_groups_of)
    env.add_filter("in_groups", in_groups)
    env.add_filter("index_by", index_by)
    env.add_filter("group_by", group_by)
    env.add_filter("sample", sample)
    env.add_filter("sort_naturally", sort_naturally)
    env.add_filter("sum", sum_)
