"""slack: the Slack Web API as the connected bot.

Spec 7.9, https://learn.mechanic.dev/core/actions/integrations/slack.

Only the three methods Mechanic supports: `/chat.postMessage`, `/chat.update`, `/chat.delete`
(https://docs.slack.dev/reference/methods/chat.postmessage, …/chat.update, …/chat.delete). The
bot token goes in `Authorization: Bearer` (https://docs.slack.dev/authentication/tokens).

Slack answers HTTP 200 with `{"ok": false, "error": "…"}` when a method fails
(https://docs.slack.dev/apis/web-api/#responses); such an answer fails the run with Slack's
error code, as Mechanic surfaces it. Rate limits answer HTTP 429 (retried).
"""

from __future__ import annotations

from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, ActionOptionsError, PermanentActionError, register
from ratchet.actions.integration_request import IntegrationRequest, account_credential, parse_request, send

SUPPORTED_METHODS = ("/chat.postMessage", "/chat.update", "/chat.delete")


def _check(url_path: str) -> Any:
    def check(status: int, body: Any) -> None:
        if isinstance(body, dict) and body.get("ok") is False:
            raise PermanentActionError(
                f"slack {url_path.lstrip('/')} failed: {body.get('error') or 'unknown error'}",
                result={"status": status, "body": body},
            )

    return check


class SlackAction:
    type: ClassVar[str] = "slack"

    def validate(self, options: Any) -> IntegrationRequest:
        request = parse_request(options)
        if request.url_path not in SUPPORTED_METHODS:
            raise ActionOptionsError(
                "url_path", f"{request.url_path!r} is not supported; one of {', '.join(SUPPORTED_METHODS)}"
            )
        return request

    async def perform(self, options: IntegrationRequest, ctx: ActionContext) -> dict[str, Any]:
        credential = await account_credential(ctx, "slack", options.account)
        base_url = ctx.settings.integrations.slack_api_url
        return await send(base_url, options, credential.secret, provider="slack", check=_check(options.url_path))


register(SlackAction())
