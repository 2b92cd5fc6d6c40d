"""airtable: the Airtable Web API as the connected account.

Spec 7.9, https://learn.mechanic.dev/core/actions/integrations/airtable.

`url_path` (e.g. `/v0/{baseId}/{tableIdOrName}`, `/v0/meta/bases/{baseId}/tables`) is appended to
RATCHET_AIRTABLE_API_URL; the personal access token goes in `Authorization: Bearer`
(https://airtable.com/developers/web/api/authentication). Airtable reports errors with 4xx
statuses and `{"error": {"type", "message"}}` (https://airtable.com/developers/web/api/errors),
which stay in the result for the task to read; 429 and 5xx are retried.
"""

from __future__ import annotations

from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, register
from ratchet.actions.integration_request import IntegrationRequest, account_credential, parse_request, send


class AirtableAction:
    type: ClassVar[str] = "airtable"

    def validate(self, options: Any) -> IntegrationRequest:
        return parse_request(options)

    async def perform(self, options: IntegrationRequest, ctx: ActionContext) -> dict[str, Any]:
        credential = await account_credential(ctx, "airtable", options.account)
        return await send(ctx.settings.integrations.airtable_api_url, options, credential.secret, provider="airtable")


register(AirtableAction())
