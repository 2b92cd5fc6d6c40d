"""Store-level event filters (spec 4.6) and `ratchet filter add|list|remove`."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

from ratchet.core.runs import RunKind, RunState
from ratchet.services.event_filters import list_filters, save_filter
from ratchet.services.shop_cache import cache_set
from starter.api import Ratchet
from tests.support.cli import one_line_error, ratchet
from tests.support.tasks import add_task
from tests.support.waiting import all_terminal, of_kind, settled, wait_for_runs

# The debouncing technique: drop an event while a cache flag is set, whitespace around "false".
DEBOUNCE = """
{% if event.topic == "user/filter/go" and cache["pause"] %}
  false
{% endif %}
"""


async def test_filter_output_false_drops_the_event(api: Ratchet) -> None:
    await add_task(api, "Listener", '{% action "echo", n: event.data.n %}', ["user/filter/go", "user/filter/other"])
    save_filter(api.store, api.settings.shop, "debounce", DEBOUNCE)
    cache_set(api.store, api.settings.shop, "pause", "yes", timedelta(minutes=5))

    dropped = await api.events.send("user/filter/go", {"n": 1})
    (event_run,) = await wait_for_runs(api, dropped, all_terminal)
    assert event_run.state == RunState.succeeded
    assert (await api.runs.get(event_run.id)).result == {"task_run_ids": [], "filtered_by": "debounce"}

    # Other topics pass (the filter renders whitespace only), and so does this topic once the flag is gone.
    passed = await api.events.send("user/filter/other", {"n": 2})
    assert len(of_kind(await wait_for_runs(api, passed, settled(1)), RunKind.task)) == 1
    cache_set(api.store, api.settings.shop, "pause", None, timedelta(seconds=-1))
    again = await api.events.send("user/filter/go", {"n": 3})
    assert len(of_kind(await wait_for_runs(api, again, settled(1)), RunKind.task)) == 1


async def test_filter_cli_add_list_remove(api: Ratchet, tmp_path: Path) -> None:
    settings, shop = api.settings, api.settings.shop
    template = tmp_path / "drop.liquid"
    template.write_text("{% if event.data.drop %}false{% endif %}", encoding="utf-8")
    added = await ratchet(settings, shop, "filter", "add", "dropper", "--template", f"@{template}")
    assert added.returncode == 0, added.stderr
    listed = await ratchet(settings, shop, "filter", "list", "--json")
    assert [(f["name"], f["template"]) for f in json.loads(listed.stdout)] == [("dropper", template.read_text())]

    await add_task(api, "Listener", '{% action "echo", n: 1 %}', ["user/filter/cli"])
    dropped = await api.events.send("user/filter/cli", {"drop": True})
    (event_run,) = await wait_for_runs(api, dropped, all_terminal)
    assert (await api.runs.get(event_run.id)).result["filtered_by"] == "dropper"

    one_line_error(await ratchet(settings, shop, "filter", "add", "bad", "--template", "{% if %}"), "line 1, column")
    assert (await ratchet(settings, shop, "filter", "remove", "dropper")).returncode == 0
    assert list_filters(api.store, shop) == []
    one_line_error(await ratchet(settings, shop, "filter", "remove", "dropper"), "no filter named 'dropper'")
