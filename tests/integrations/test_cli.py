"""`ratchet accounts|globals|secrets|key` as an operator runs them.

Values come from standard input; credentials and secret values are never printed back. (Each CLI
process costs seconds; the rules behind these commands are tested on the services.)
"""

from __future__ import annotations

import json

from ratchet.services.secrets import resolve, secret_references
from starter.api import Ratchet
from tests.support.cli import one_line_error, ratchet


async def test_accounts_are_added_from_stdin_and_listed_without_credentials(ratchet_api: Ratchet, shop: str) -> None:
    settings = ratchet_api.settings
    token = "xoxb-123-never-printed"
    added = await ratchet(settings, shop, "accounts", "add", "slack", "workspace", stdin=token + "\n")
    assert added.returncode == 0, added.stderr
    assert token not in added.stdout + added.stderr

    listed = await ratchet(settings, shop, "accounts", "list", "--json")
    [account] = json.loads(listed.stdout)
    assert (account["provider"], account["name"], account["kind"]) == ("slack", "workspace", "bot_token")
    assert token not in listed.stdout
    assert (await ratchet_api.accounts.list(shop)) and token not in repr(await ratchet_api.accounts.list(shop))

    bad = await ratchet(settings, shop, "accounts", "add", "google", "me@example.com", stdin='{"type": "nope"}')
    one_line_error(bad, "service_account")


async def test_secrets_and_globals_commands(ratchet_api: Ratchet, shop: str) -> None:
    settings = ratchet_api.settings
    value = "value with a trailing space "
    assert (await ratchet(settings, shop, "secrets", "set", "api_token", stdin=value + "\n")).returncode == 0
    listed = await ratchet(settings, shop, "secrets", "list")
    assert "api_token" in listed.stdout and value.strip() not in listed.stdout

    assert (await ratchet(settings, shop, "globals", "set", "rules", '{"min": 3}')).returncode == 0
    globals_json = json.loads((await ratchet(settings, shop, "globals", "list", "--json")).stdout)
    assert globals_json == {"rules": {"min": 3}}
    # stdin's one trailing line break is not part of the value; the space is.
    with ratchet_api.store.engine.connect() as conn:
        ref = secret_references(conn, shop)["api_token"]
    assert resolve(ratchet_api.store, shop, {"url": ref}, ["url"]).options == {"url": value}


async def test_key_commands_moved_under_key(ratchet_api: Ratchet, shop: str) -> None:
    generated = await ratchet(ratchet_api.settings, shop, "key", "generate")
    assert generated.returncode == 0 and len(generated.stdout.strip()) == 44
