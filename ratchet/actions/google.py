"""google: Google's REST APIs (Drive, Sheets, Docs) as a connected account.

Spec 7.9, https://learn.mechanic.dev/core/actions/integrations/google.

`url_path` is appended to RATCHET_GOOGLE_API_URL (www.googleapis.com serves `/drive/v3/…` and
`/upload/drive/v3/…`, https://developers.google.com/workspace/drive/api/reference/rest/v3);
paths under `/sheets/` go to RATCHET_GOOGLE_SHEETS_API_URL without that prefix, since Sheets v4
is served at sheets.googleapis.com/v4/… (https://developers.google.com/workspace/sheets/api/reference/rest).
JSON `Accept` and `Content-Type` are filled in when missing, as Mechanic documents; a GET's body
hash becomes query parameters. Result `{status, body}`.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from ratchet.actions.base import ActionContext, register
from ratchet.actions.google_auth import TOKENS, GoogleSession, google_client
from ratchet.actions.integration_request import IntegrationRequest, parse_request, send

SHEETS_PREFIX = "/sheets/"


class GoogleAction:
    type: ClassVar[str] = "google"

    def validate(self, options: Any) -> IntegrationRequest:
        return parse_request(options, json_defaults=True)

    async def perform(self, options: IntegrationRequest, ctx: ActionContext) -> dict[str, Any]:
        urls = ctx.settings.integrations
        async with google_client() as client:
            session = await GoogleSession.open(ctx, options.account, client)
            token = await session.token()
        if options.url_path.startswith(SHEETS_PREFIX):
            base_url, request = (
                urls.google_sheets_api_url,
                replace(options, url_path=options.url_path.removeprefix(SHEETS_PREFIX.rstrip("/"))),
            )
        else:
            base_url, request = urls.google_api_url, options
        result = await send(base_url, request, token, provider="google")
        if result["status"] == 401:
            TOKENS.forget(session.credential)  # the next attempt or run fetches a fresh token
        return result


register(GoogleAction())
