"""echo: returns its options; `__error` fails the run on purpose (permanently)."""

from __future__ import annotations

from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, LocalAction, PermanentActionError, register


class EchoAction(LocalAction):
    type: ClassVar[str] = "echo"

    def validate(self, options: Any) -> Any:
        return options

    def perform_local(self, options: Any, ctx: ActionContext) -> Any:
        if isinstance(options, dict) and options.get("__error") not in (None, False, ""):
            error = options["__error"]
            raise PermanentActionError(error if isinstance(error, str) else str(error), result=options)
        return options


register(EchoAction())
