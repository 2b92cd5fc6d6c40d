"""JSON filters: `json`, `parse_json`, `jsonl`, `parse_jsonl`, and the shared encoder.

Output matches Ruby's `JSON.generate` closely enough for round trips: compact
separators, UTF-8 kept as is, undefined values as `null`.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from liquid import Environment
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined


def _default(obj: object) -> object:
    if isinstance(obj, Undefined):
        return None
    if isinstance(obj, Decimal):
        # Keep integers integral ("5"), like Ruby's BigDecimal#to_i round trip.
        return int(obj) if obj == obj.to_integral_value() and "." not in str(obj) else float(obj)
    if isinstance(obj, dt.datetime):
        return obj.isoformat()
    if isinstance(obj, dt.date):
        return obj.isoformat()
    if isinstance(obj, (range, tuple, set, frozenset)):
        return list(obj)
    if hasattr(obj, "to_liquid_json"):
        return obj.to_liquid_json()
    if hasattr(obj, "items"):
        return dict(obj.items())
    return str(obj)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_default)


def _clean(value: object) -> object:
    # json's C encoder serialises Mapping subclasses such as Undefined only through
    # `default`, but a dict *value* that is Undefined inside a plain dict is caught
    # too; keys must be strings, so stringify non-string keys as Ruby does.
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return value
        return {_key(k): v for k, v in value.items()}
    return value


def _key(key: object) -> str:
    if key is None or isinstance(key, Undefined):
        return ""
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)


def to_json(value: object) -> str:
    """Serialise a Liquid value to compact JSON (Ruby `JSON.generate` style)."""
    try:
        return _ENCODER.encode(_clean(value))
    except TypeError:
        return _ENCODER.encode(_stringify_keys(value))
    except ValueError as err:
        # Circular references and NaN/Infinity are not representable.
        raise FilterArgumentError(f"json: {err}", token=None) from err


def _stringify_keys(value: Any) -> Any:
    if isinstance(value, dict):
        return {_key(k): _stringify_keys(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_stringify_keys(v) for v in value]
    return value


def json_filter(value: object) -> str:
    return to_json(value)


def parse_json(value: object, *, silent: object = False) -> object:
    """Parse a JSON string; invalid input raises unless `silent: true` (then nil)."""
    if isinstance(value, Undefined) or value is None:
        if silent:
            return None
        raise FilterArgumentError("parse_json: expected a JSON string, got nil", token=None)
    text = value if isinstance(value, str) else str(value)
    try:
        return json.loads(text)
    except ValueError as err:
        if silent:
            return None
        raise FilterArgumentError(f"parse_json: invalid JSON: {err}", token=None) from err


def jsonl(value: object) -> str:
    if not isinstance(value, (list, tuple)):
        return to_json(value)
    return "\n".join(to_json(item) for item in value)


def parse_jsonl(value: object) -> list[object]:
    if isinstance(value, Undefined) or value is None:
        return []
    text = value if isinstance(value, str) else str(value)
    rows: list[object] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except ValueError as err:
            raise FilterArgumentError(f"parse_jsonl: line {number}: {err}", token=None) from err
    return rows


def register(env: Environment) -> None:
    env.add_filter("json", json_filter)
    env.add_filter("parse_json", parse_json)
    env.add_filter("jsonl", jsonl)
    env.add_filter("parse_jsonl", parse_jsonl)
