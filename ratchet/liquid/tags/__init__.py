"""Mechanic's tags, registered on `MechanicEnvironment`."""

from __future__ import annotations

from liquid import Environment

from .action import ActionTag
from .assign import AssignTag
from .log_error import ErrorTag, LogTag
from .permissions import PermissionsTag


def register_tags(env: Environment) -> None:
    env.add_tag(ActionTag)
    env.add_tag(LogTag)
    env.add_tag(ErrorTag)
    env.add_tag(PermissionsTag)
    # Replaces the built-in assign: indexed targets, written in place, values stored by value.
    env.add_tag(AssignTag)
