"""cache: Mechanic's Redis-style commands against the shop's cache (spec 7.4).

Positional form `["setex", "key", 600, "value"]` or verbose form
`{"setex": {"key": "key", "ttl": 600, "value": "value"}}` (where `ttl` is allowed on every
command). Every write resets the key's TTL, to 60 days unless one is given. The result is the
key's new value (null after `del`), which the spec leaves open (section 13.23).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, LocalAction, PermanentActionError, register
from ratchet.services.shop_cache import (
    DEFAULT_TTL_SECONDS,
    KEY_RE,
    MAX_KEY_LENGTH,
    MAX_TTL_SECONDS,
    MAX_VALUE_BYTES,
    CacheValueError,
    cache_delete,
    cache_incrby,
    cache_set,
    serialised_size,
)

# Arguments of each command, in positional order; the verbose form names the same fields.
_ARGUMENTS: dict[str, tuple[str, ...]] = {
    "set": ("key", "value"),
    "setex": ("key", "ttl", "value"),
    "del": ("key",),
    "incr": ("key",),
    "incrby": ("key", "increment"),
    "decr": ("key",),
    "decrby": ("key", "decrement"),
}
_INTEGER_TEXT = re.compile(r"[+-]?\d+")


def _integer(field_name: str, value: Any) -> int:
    # Liquid math can yield 600.0 and JSON templating "600"; both are clearly integers.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and _INTEGER_TEXT.fullmatch(value.strip()):
        return int(value)
    raise ActionOptionsError(field_name, f"must be an integer, got {value!r}")


def _key(value: Any) -> str:
    # Task code often builds keys from numeric ids.
    key = str(value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(key, str) or not KEY_RE.fullmatch(key):
        raise ActionOptionsError("key", f"must match {KEY_RE.pattern} (letters, digits, _ : - . /), got {value!r}")
    if len(key) > MAX_KEY_LENGTH:
        raise ActionOptionsError("key", f"is {len(key)} characters; the limit is {MAX_KEY_LENGTH}")
    return key


def _ttl(value: Any) -> int:
    ttl = _integer("ttl", value)
    if not 1 <= ttl <= MAX_TTL_SECONDS:
        raise ActionOptionsError("ttl", f"must be between 1 and {MAX_TTL_SECONDS} seconds (60 days), got {ttl}")
    return ttl


def _parse(options: Any) -> tuple[str, dict[str, Any]]:
    """The command name and its arguments by name, from either form."""
    if isinstance(options, list):
        if not options or not isinstance(options[0], str):
            raise ActionOptionsError("command", "the first element must be a command name")
        command = options[0].lower()
        names = _ARGUMENTS.get(command)
        if names is None:
            raise ActionOptionsError(
                "command", f"unknown cache command {options[0]!r}; expected one of {', '.join(_ARGUMENTS)}"
            )
        if len(options) - 1 != len(names):
            raise ActionOptionsError(
                "options", f"{command} takes {len(names)} argument(s) ({', '.join(names)}), got {len(options) - 1}"
            )
        return command, dict(zip(names, options[1:], strict=True))
    if isinstance(options, dict):
        if len(options) != 1:
            raise ActionOptionsError("command", f"the verbose form has exactly one command key, got {sorted(options)}")
        ((name, arguments),) = options.items()
        command = name.lower()
        names = _ARGUMENTS.get(command)
        if names is None:
            raise ActionOptionsError(
                "command", f"unknown cache command {name!r}; expected one of {', '.join(_ARGUMENTS)}"
            )
        if not isinstance(arguments, dict):
            raise ActionOptionsError(command, "must be a hash of key, value, ttl, …")
        unknown = sorted(set(arguments) - {*names, "ttl"})
        if unknown:
            raise ActionOptionsError(
                unknown[0], f"is not an argument of {command} (expected {', '.join((*names, 'ttl'))})"
            )
        missing = [field for field in names if field not in arguments]
        if missing:
            raise ActionOptionsError(missing[0], f"is required for {command}")
        return command, arguments
    raise ActionOptionsError("options", 'must be an array like ["set", key, value] or a hash like {"set": {…}}')


class CacheAction(LocalAction):
    type: ClassVar[str] = "cache"

    def validate(self, options: Any) -> dict[str, Any]:
        """Normalise to {"command": "set"|"del"|"incrby", "key", "ttl" (seconds), "value"|"delta"}."""
        command, arguments = _parse(options)
        key = _key(arguments["key"])
        ttl = _ttl(arguments["ttl"]) if "ttl" in arguments else DEFAULT_TTL_SECONDS
        if command in ("set", "setex"):
            size = serialised_size(arguments["value"])
            if size > MAX_VALUE_BYTES:
                raise ActionOptionsError("value", f"is {size} bytes as JSON; the limit is {MAX_VALUE_BYTES} (256 KB)")
            return {"command": "set", "key": key, "ttl": ttl, "value": arguments["value"]}
        if command == "del":
            return {"command": "del", "key": key, "ttl": ttl}
        if command in ("incr", "decr"):
            delta = 1
        else:
            field_name = "increment" if command == "incrby" else "decrement"
            delta = _integer(field_name, arguments[field_name])
        return {"command": "incrby", "key": key, "ttl": ttl, "delta": -delta if command.startswith("decr") else delta}

    def perform_local(self, options: dict[str, Any], ctx: ActionContext) -> Any:
        key = options["key"]
        ttl = ctx.settings.scaled(options["ttl"])
        if options["command"] == "set":
            return cache_set(ctx.store, ctx.shop.id, key, options["value"], ttl)
        if options["command"] == "del":
            cache_delete(ctx.store, ctx.shop.id, key)
            return None
        try:
            return cache_incrby(ctx.store, ctx.shop.id, key, options["delta"], ttl)
        except CacheValueError as error:
            raise PermanentActionError(str(error)) from error


register(CacheAction())
