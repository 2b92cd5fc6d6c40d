"""`browser`: a user agent string as Mechanic's browser object.

Built from uap-core's rules (the Browserscope data Mechanic's docs name), shaped like Ruby's `user_agent_parser` objects: each part prints
as text (`Google 79.0.259819395`, `iOS 12.4`, `iPhone`) and has fields (`name`,
`version.major`, `os.version.minor`, `device.brand`, …). Unknown parts are "Other", as in
Ruby.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from liquid import Environment
from ua_parser import parse

from ..ruby import RubyObject, to_s

OTHER = "Other"


class UserAgentPart(RubyObject):
    """Prints as its Ruby `to_s`; lookups read its fields (missing ones are nil)."""

    __slots__ = ("_fields", "_text")

    def __init__(self, text: str, fields: dict[str, Any]) -> None:
        self._text = text
        self._fields = fields

    def to_s(self) -> str:
        return self._text

    def __str__(self) -> str:
        return self._text

    def __getitem__(self, key: object) -> object:
        if not isinstance(key, str) or key not in self._fields:
            raise KeyError(key)
        return self._fields[key]

    def to_liquid_json(self) -> dict[str, Any]:
        return {
            key: value.to_liquid_json() if isinstance(value, UserAgentPart) else value
            for key, value in self._fields.items()
        }


def _version(*segments: str | None) -> UserAgentPart | None:
    present = [s for s in segments if s is not None]
    if not present:
        return None
    names = ("major", "minor", "patch", "patch_minor")
    return UserAgentPart(".".join(present), {"version": ".".join(present), **dict(zip(names, segments, strict=True))})


def _named(name: str, version: UserAgentPart | None, **extra: Any) -> UserAgentPart:
    text = f"{name} {version.to_s()}" if version is not None else name
    return UserAgentPart(text, {"name": name, "family": name, "version": version, **extra})


@lru_cache(maxsize=256)
def _parse(user_agent: str) -> UserAgentPart:
    result = parse(user_agent)
    agent, os, device = result.user_agent, result.os, result.device
    os_part = _named(os.family if os else OTHER, _version(os.major, os.minor, os.patch, os.patch_minor) if os else None)
    device_name = device.family if device else OTHER
    device_part = UserAgentPart(
        device_name,
        {
            "name": device_name,
            "family": device_name,
            "brand": device.brand if device else None,
            "model": device.model if device else None,
        },
    )
    return _named(
        agent.family if agent else OTHER,
        _version(agent.major, agent.minor, agent.patch, agent.patch_minor) if agent else None,
        os=os_part,
        device=device_part,
        user_agent=user_agent,
    )


def browser(value: object) -> UserAgentPart:
    return _parse(to_s(value))


def register(env: Environment) -> None:
    env.add_filter("browser", browser)
