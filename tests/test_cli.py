"""The `ratchet` CLI as a user runs it: real processes, one-line errors, non-zero exits, JSON output."""

from __future__ import annotations

import ast
import contextlib
import json
import os
import pty
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.engine.devserver import free_port
from ratchet.store import migrations
from starter.api import Ratchet
from tests.support.cli import REPO, one_line_error, ratchet
from tests.support.shopify_fake import ShopifyFake
from tests.support.tasks import add_task, export
from tests.support.waiting import settled, wait_for_runs


async def test_import_send_list_show(api: Ratchet, tmp_path: Path) -> None:
    settings, shop = api.settings, api.settings.shop
    task_file = tmp_path / "task.json"
    task_file.write_text(json.dumps(export("CLI task", '{% action "echo", got: event.data.n %}', ["user/cli/test"])))
    imported = await ratchet(settings, shop, "task", "import", str(task_file))
    assert imported.returncode == 0, imported.stderr
    task_id = imported.stdout.strip().splitlines()[-1]
    assert (await api.tasks.get(task_id)).name == "CLI task"

    sent = await ratchet(settings, shop, "event", "send", "user/cli/test", "--data", '{"n": 7}', "--id", "cli-1")
    assert sent.returncode == 0, sent.stderr
    event_id = sent.stdout.strip().splitlines()[-1]
    again = await ratchet(settings, shop, "event", "send", "user/cli/test", "--data", '{"n": 8}', "--id", "cli-1")
    assert again.stdout.strip().splitlines()[-1] == event_id
    await wait_for_runs(api, event_id, settled(1))

    listed = await ratchet(settings, shop, "runs", "list", "--event", event_id, "--json")
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert sorted(r["kind"] for r in rows) == ["action", "event", "task"]
    required = {
        "id",
        "kind",
        "state",
        "topic",
        "event_id",
        "parent_id",
        "task_id",
        "task_name",
        "action_type",
        "attempts",
        "run_at",
        "started_at",
        "stopped_at",
        "error",
    }
    assert all(required <= set(r) for r in rows)
    action = next(r for r in rows if r["kind"] == "action")
    assert action["state"] == "Succeeded" and action["task_name"] == "CLI task"
    assert action["started_at"].endswith("+00:00")

    by_task = json.loads(
        (await ratchet(settings, shop, "runs", "list", "--task", "CLI task", "--kind", "action", "--json")).stdout
    )
    assert [r["id"] for r in by_task] == [action["id"]]
    shown = await ratchet(settings, shop, "runs", "show", action["id"], "--json")
    assert json.loads(shown.stdout)["id"] == action["id"]
    # The 8-character ids `runs list` prints are accepted wherever a run id is.
    short = await ratchet(settings, shop, "runs", "show", action["id"][:8], "--json")
    assert json.loads(short.stdout)["id"] == action["id"]
    one_line_error(await ratchet(settings, shop, "runs", "show", action["id"][:5]), "unknown run")

    refused = await ratchet(settings, shop, "runs", "retry", action["id"][:8])
    one_line_error(refused, "only failed action runs can be retried")


async def test_task_run_button_prints_event_id(api: Ratchet, tmp_path: Path) -> None:
    task_file = tmp_path / "button.json"
    task_file.write_text(json.dumps(export("Button", '{% action "echo", text: event.data %}', ["mechanic/user/text"])))
    await ratchet(api.settings, api.settings.shop, "task", "import", str(task_file))
    result = await ratchet(api.settings, api.settings.shop, "task", "run", "Button", "--text", "hello")
    assert result.returncode == 0, result.stderr
    runs = await wait_for_runs(api, result.stdout.strip().splitlines()[-1], settled(1))
    action = next(r for r in runs if r.kind == RunKind.action)
    assert action.state == RunState.succeeded
    assert (await api.runs.get(action.id)).result == {"text": "hello"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("event", "send", "Not A Topic"), "invalid topic"),
        (("event", "send", "user/a/b", "--data", "{oops"), "invalid JSON"),
        (("event", "send", "user/a/b", "--data", "@/nonexistent.json"), "cannot read"),
        (("runs", "show", "no-such-run"), "unknown run"),
        (("runs", "list", "--task", "no-such-task"), "unknown task"),
        (("runs", "list", "--state", "Bogus"), "Bogus"),
        (("task", "enable", "no-such-task"), "unknown task"),
        (("task", "import", "/nonexistent.json"), "cannot read"),
        (("shop", "add", "x", "--timezone", "Mars/Olympus"), "unknown time zone"),
        (("filter", "remove", "no-such-filter"), "no filter named"),
        (("webhook", "remove", "no-such-hook"), "unknown webhook"),
        (("event", "send", "mechanic/user/trigger"), "ratchet task run"),
    ],
)
async def test_bad_input_is_one_line_and_nonzero(api: Ratchet, args: tuple[str, ...], message: str) -> None:
    before = len(await api.runs.list())
    one_line_error(await ratchet(api.settings, api.settings.shop, *args), message)
    assert len(await api.runs.list()) == before


async def test_invalid_export_imports_nothing(api: Ratchet, tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "No script"')
    one_line_error(await ratchet(api.settings, api.settings.shop, "task", "import", str(bad)), "invalid task export")
    missing = tmp_path / "missing.json"
    missing.write_text(json.dumps({"name": "x", "options": {}, "subscriptions_template": "", "docs": ""}))
    one_line_error(await ratchet(api.settings, api.settings.shop, "task", "import", str(missing)), "script")
    assert await api.tasks.list() == []


async def test_required_options_import_disabled_until_configured(api: Ratchet, tmp_path: Path) -> None:
    task_file = tmp_path / "opts.json"
    task_file.write_text(
        json.dumps(
            export(
                "Needs options",
                '{% action "echo", to: options.email__required %}',
                ["user/opt/go"],
                options={"email__required": None},
            )
        )
    )
    imported = await ratchet(api.settings, api.settings.shop, "task", "import", str(task_file))
    assert imported.returncode == 0 and "email__required" in imported.stdout
    assert not (await api.tasks.get("Needs options")).enabled
    one_line_error(await ratchet(api.settings, api.settings.shop, "task", "enable", "Needs options"), "email__required")
    configured = await ratchet(
        api.settings,
        api.settings.shop,
        "task",
        "configure",
        "Needs options",
        "--option",
        "email__required=ops@example.com",
    )
    assert configured.returncode == 0, configured.stderr
    assert (await ratchet(api.settings, api.settings.shop, "task", "enable", "Needs options")).returncode == 0
    assert (await api.tasks.get("Needs options")).enabled


async def test_shop_secrets_are_never_printed(api: Ratchet, shopify_fake_server: ShopifyFake) -> None:
    fake = shopify_fake_server
    fake.reset()
    shop = api.settings.shop
    args = ("shop", "set", shop, "--shopify-domain", fake.base_url, "--webhook-secret", "--access-token")
    # The token from the environment, the webhook secret typed at the (hidden) prompt.
    env = {"RATCHET_SHOPIFY_ACCESS_TOKEN": fake.access_token}
    result = await ratchet(api.settings, shop, *args, env=env, stdin="whsec_456\n")
    assert result.returncode == 0, result.stderr
    assert fake.access_token not in result.stdout + result.stderr and "whsec_456" not in result.stdout
    assert "access token set" in result.stdout and "timezone America/New_York" in result.stdout
    saved = await api.shops.get(shop)
    assert saved.access_token == fake.access_token and saved.webhook_secret == "whsec_456"


async def test_a_wrong_access_token_is_refused_in_one_line(api: Ratchet, shopify_fake_server: ShopifyFake) -> None:
    fake = shopify_fake_server
    fake.reset()
    shop = api.settings.shop
    result = await ratchet(
        api.settings,
        shop,
        *("shop", "set", shop, "--shopify-domain", fake.base_url, "--access-token"),
        env={"RATCHET_SHOPIFY_ACCESS_TOKEN": "shpat_wrong"},
    )
    assert result.returncode != 0
    assert result.stderr.strip().count("\n") == 0 and "Shopify refused the access token" in result.stderr
    assert (await api.shops.get(shop)).access_token is None


async def test_shop_connect_takes_the_client_secret_from_env_or_prompt(
    api: Ratchet, shopify_fake_server: ShopifyFake
) -> None:
    fake = shopify_fake_server
    fake.reset()
    shop = api.settings.shop
    args = ("shop", "connect", shop, "--shop", fake.base_url, "--client-id", fake.oauth.client_id)
    secret = fake.oauth.client_secret
    for extra in ({"env": {"RATCHET_SHOPIFY_CLIENT_SECRET": secret}}, {"stdin": secret + "\n"}):
        result = await ratchet(api.settings, shop, *args, **extra)
        assert result.returncode == 0, result.stderr
        assert secret not in result.stdout + result.stderr and "access token set" in result.stdout
    assert fake.oauth.grants == ["client_credentials", "client_credentials"]
    saved = await api.shops.get(shop)
    assert saved.webhook_secret == secret and saved.access_token in fake.oauth.tokens
    assert saved.shopify_domain == fake.base_url

    refused = await ratchet(api.settings, shop, *args, env={"RATCHET_SHOPIFY_CLIENT_SECRET": "wrong"})
    one_line_error(refused, "Shopify refused the client_credentials grant")
    custom = await ratchet(
        api.settings,
        shop,
        *("shop", "connect", shop, "--shop", "shop.example.com", "--client-id", "id"),
        env={"RATCHET_SHOPIFY_CLIENT_SECRET": secret},
    )
    one_line_error(custom, "is not a myshopify.com domain")


async def test_install_url_and_scopes(api: Ratchet, shopify_fake_server: ShopifyFake) -> None:
    shop = api.settings.shop
    await add_task(
        api, "Tagger", '{% action "shopify" %}mutation { orderUpdate }{% endaction %}', ["shopify/customers/create"]
    )
    scopes = await ratchet(api.settings, shop, "shop", "scopes", shop)
    assert scopes.returncode == 0, scopes.stderr
    assert scopes.stdout.strip() == "read_customers,write_orders"

    args = ("shop", "install-url", "agency-shop", "--shop", "acme", "--client-id", "cid")
    env = {"RATCHET_SHOPIFY_CLIENT_SECRET": "s3cret"}
    one_line_error(await ratchet(api.settings, shop, *args, env=env), "give --scopes")
    one_line_error(
        await ratchet(api.settings, shop, *args, "--scopes", "read_orders", env=env), "RATCHET_PUBLIC_URL is required"
    )
    linked = await ratchet(
        api.settings, shop, *args, "--scopes", "read_orders", env=env | {"RATCHET_PUBLIC_URL": "https://r.example"}
    )
    assert linked.returncode == 0, linked.stderr
    assert linked.stdout.startswith("https://acme.myshopify.com/admin/oauth/authorize?client_id=cid&scope=read_orders&")
    assert "redirect_uri=https%3A%2F%2Fr.example%2Fshopify%2Fauth%2Fcallback" in linked.stdout
    assert "s3cret" not in linked.stdout


async def test_reimport_keeps_what_the_user_set(api: Ratchet, tmp_path: Path) -> None:
    settings, shop = api.settings, api.settings.shop
    task_file = tmp_path / "tagger.json"

    def write_version(script: str, options: dict[str, object]) -> None:
        template = "{% if options.hourly__boolean %}mechanic/scheduler/hourly{% else %}user/tag/go{% endif %}"
        task_file.write_text(json.dumps(export("Tagger", script, [], options=options, subscriptions_template=template)))

    write_version('{% action "echo", tag: options.tag %}', {"tag": "old", "hourly__boolean": False, "gone": "x"})
    assert (await ratchet(settings, shop, "task", "import", str(task_file))).returncode == 0
    await api.tasks.configure("Tagger", {"tag": "mine", "hourly__boolean": True})
    await api.tasks.disable("Tagger")

    write_version(
        '{% action "echo", tag: options.tag, n: options.n %}', {"tag": "new", "hourly__boolean": False, "n": "2"}
    )
    result = await ratchet(settings, shop, "task", "import", str(task_file))
    assert result.returncode == 0, result.stderr
    task = await api.tasks.get("Tagger")
    assert not task.enabled and task.options == {"tag": "mine", "hourly__boolean": True, "n": "2"}
    # Subscriptions follow the kept option values, not the export's.
    assert task.subscriptions == ["mechanic/scheduler/hourly"]
    assert "kept disabled" in result.stdout
    for line in (
        "changed: new options: n",
        "changed: removed options: gone",
        "changed: kept your values (the export's differ) for: tag, hourly__boolean",
        "changed: script changed",
    ):
        assert line in result.stdout

    reset = await ratchet(settings, shop, "task", "import", "--reset", str(task_file))
    assert reset.returncode == 0, reset.stderr
    task = await api.tasks.get("Tagger")
    assert task.enabled and task.options == {"tag": "new", "hourly__boolean": False, "n": "2"}
    assert "changed:" not in reset.stdout


async def test_import_warns_about_unsupported_features(api: Ratchet, tmp_path: Path) -> None:
    task_file = tmp_path / "toaster.json"
    script = '{% action "report_toaster" %}{"operation": "report", "reports": [{"id": "x"}]}{% endaction %}'
    task_file.write_text(json.dumps(export("Toaster", script, ["user/a/b"])))
    result = await ratchet(api.settings, api.settings.shop, "task", "import", str(task_file))
    assert result.returncode == 0, result.stderr
    assert (
        "warning [unsupported_action]: action type 'report_toaster': Report Toaster's API is private" in result.stdout
    )
    assert result.stdout.strip().splitlines()[-1] == (await api.tasks.get("Toaster")).id


def test_command_groups_reach_only_the_api_and_the_shared_module() -> None:
    """No group imports another group or a service: the CLI is a client of the Python API."""
    cli = REPO / "starter" / "cli"
    groups = {p.stem for p in cli.glob("*.py")} - {"__init__", "__main__", "main", "common"}
    for group in groups:
        tree = ast.parse((cli / f"{group}.py").read_text())
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
        assert not {f"starter.cli.{other}" for other in groups} & imported, group
        assert not {m for m in imported if m.startswith("ratchet.services")} - {"ratchet.services.check"}, group


def test_db_current_and_upgrade_on_a_pre_migration_database(tmp_path: Path) -> None:
    database = tmp_path / "ratchet.db"
    with sqlite3.connect(database) as connection:
        connection.executescript((REPO / "tests/store/fixtures/pre_migrations_sqlite.sql").read_text())
    env = {**os.environ, "RATCHET_HOME": str(tmp_path), "RATCHET_DATABASE_URL": f"sqlite:///{database}"}

    def db(*args: str) -> str:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "ratchet"), "db", *args],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.strip()

    head = migrations.head_revision()
    assert db("current").endswith(f"no schema revision (head is {head}: run `ratchet db upgrade`)")
    assert db("upgrade").endswith(f"no schema revision → {head}")
    assert db("current").endswith(f"{head} (head)")
    assert db("upgrade").endswith(f"{head} (head)")
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT timezone FROM shops WHERE id = 'acme'").fetchone() == ("America/New_York",)


async def test_runs_list_fits_80_columns_one_line_per_run(api: Ratchet, tmp_path: Path) -> None:
    long_name = "A task with a name far longer than any terminal column could ever hold " * 2
    await add_task(
        api, long_name, '{% action "echo", __error: "' + "a very long failure message " * 10 + '" %}', ["user/wide/go"]
    )
    event_id = await api.events.send("user/wide/go", None)
    runs = await wait_for_runs(api, event_id, settled(1))

    listed = await ratchet(api.settings, api.settings.shop, "runs", "list", "--event", event_id)
    assert listed.returncode == 0, listed.stderr
    lines = listed.stdout.rstrip("\n").splitlines()
    assert all(len(line) <= 80 for line in lines), listed.stdout
    rows = [line for line in lines if any(line.lstrip().startswith(run.id[:8]) for run in runs)]
    assert len(rows) == len(runs) == 3, listed.stdout  # one line each: event, task and action run
    assert "…" in listed.stdout and runs[0].id not in listed.stdout

    wide = await ratchet(api.settings, api.settings.shop, "runs", "list", "--event", event_id, "--wide")
    assert all(run.id in wide.stdout for run in runs) and long_name.strip() in wide.stdout


def test_task_check_progress_only_on_a_terminal(tmp_path: Path) -> None:
    files = [str(path) for path in sorted(Path("/work/shared/corpus/tasks").glob("*.json"))[:6]]
    command = [str(Path(sys.executable).parent / "ratchet"), "task", "check", *files]
    piped = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert piped.stdout.count("\n") >= 6 and piped.stderr == ""

    controller, terminal = pty.openpty()
    with subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=terminal) as process:
        os.close(terminal)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the process has closed the terminal
            while chunk := os.read(controller, 4096):
                shown += chunk
        process.wait(timeout=120)
    os.close(controller)
    assert b"checking tasks" in shown


async def test_an_unreachable_temporal_is_one_line_for_commands_and_the_worker(api: Ratchet) -> None:
    unreachable = api.settings.updated(temporal={"address": f"127.0.0.1:{free_port()}"})
    for command in (("event", "send", "user/cli/test"), ("worker",)):
        one_line_error(await ratchet(unreachable, api.settings.shop, *command), "cannot reach Temporal")
