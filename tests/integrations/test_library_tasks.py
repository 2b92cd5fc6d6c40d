"""Mechanic library tasks that use Slack, Google and Airtable, run unchanged by the engine against the fakes."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

from ratchet.core.runs import RunKind, RunState
from ratchet.services.check import run_check
from starter.api import Ratchet
from tests.support.integration_fakes import IntegrationFakes
from tests.support.servers import SmtpServer
from tests.support.waiting import all_terminal, eventually, of_kind, settled, wait_for_runs, wait_until_idle

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"
GOOGLE = "orders@example.com"


async def import_library_task(api: Ratchet, name: str, options: dict[str, Any]) -> str:
    export = json.loads((CORPUS / f"{name}.json").read_text())
    export["options"] = {**export["options"], **options}
    imported = await api.tasks.import_(export, reset=True)
    assert imported.task.enabled, imported.missing_required_options
    return imported.task.id


async def connect_google(api: Ratchet, fakes: IntegrationFakes) -> None:
    key = fakes.new_service_account(f"robot-{api.settings.shop}@tests.iam.gserviceaccount.com")
    await api.accounts.add("google", GOOGLE, json.dumps(key))


async def test_post_to_a_slack_channel(api: Ratchet, integration_fakes: IntegrationFakes) -> None:
    await api.accounts.add("slack", "workspace", integration_fakes.slack_token)
    channel = f"C{api.settings.shop.upper()}"
    options = {"slack_account__required": "workspace", "slack_channel_id__required": channel}
    task_id = await import_library_task(api, "demonstration-post-to-a-slack-channel", options)
    event_id = await api.tasks.run(task_id)
    [action] = of_kind(await wait_for_runs(api, event_id, settled(1)), RunKind.action)
    assert action.state == RunState.succeeded
    [(key, message)] = [(k, m) for k, m in integration_fakes.slack_messages.items() if k[0] == channel]
    assert message["text"] == "Slack Integration Test"
    assert message["blocks"][0]["text"]["text"] == "🎉 Your Slack Integration is Working!"
    assert (await api.runs.get(action.id)).result["body"]["ts"] == key[1]


async def test_order_tracking_sheet_is_created_filled_and_exported_by_email(
    api: Ratchet, integration_fakes: IntegrationFakes, smtp_env: SmtpServer
) -> None:
    await connect_google(api, integration_fakes)
    name = "demonstration-add-new-orders-to-google-sheet"
    options: dict[str, Any] = {"google_account__required": GOOGLE, "spreadsheet_title__required": "Order Tracking"}
    task_id = await import_library_task(api, name, options)
    event_id = await api.tasks.run(task_id)
    [create] = of_kind(await wait_for_runs(api, event_id, settled(1)), RunKind.action)
    spreadsheet_id = (await api.runs.get(create.id)).result["spreadsheet_id"]
    assert integration_fakes.sheet_rows(spreadsheet_id)[0][:2] == ["Order Number", "Date"]

    options |= {"spreadsheet_id": spreadsheet_id, "create_sheet_mode__boolean": False}
    await import_library_task(api, name, options)
    order = {
        "order_number": 1001,
        "created_at": "2026-12-01T10:00:00Z",
        "customer": {"first_name": "Jean", "last_name": "Deaux"},
        "total_price": "19.90",
        "line_items": [{"quantity": 2, "title": "Mug"}],
        "financial_status": "paid",
    }
    appended = await api.events.send("shopify/orders/create", order)
    [append] = of_kind(await wait_for_runs(api, appended, settled(1)), RunKind.action)
    assert append.state == RunState.succeeded
    assert integration_fakes.sheet_rows(spreadsheet_id)[1] == [
        1001,
        "2026-12-01 10:00:00",
        "Jean Deaux",
        "19.90",
        "2x Mug",
        "paid",
    ]

    options |= {"export_sheet_mode__boolean": True, "email_address_for_export__email": "ops@example.com"}
    options["file_format_for_export"] = "csv"
    await import_library_task(api, name, options)
    exported = await api.tasks.run(task_id)
    await wait_until_idle(api, exported)
    runs = await wait_for_runs(api, exported, all_terminal)
    [export] = of_kind(runs, RunKind.action)
    assert export.state == RunState.succeeded
    # mechanic/actions/perform hands the export to the task, which mails it as an attachment.
    email = await _email_following(api, export.id)
    [(_, message)] = smtp_env.handler.delivered(email)
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "Order Tracking.csv"
    content = attachment.get_payload(decode=True)
    assert isinstance(content, bytes)
    rows = list(csv.reader(io.StringIO(content.decode())))
    assert rows[1][0] == "1001"


async def _email_following(api: Ratchet, action_run_id: str) -> str:
    async def check() -> str | None:
        for run in await api.runs.list(kind=RunKind.action):
            if run.action_type == "email" and run.state == RunState.succeeded:
                detail = await api.runs.get(run.id)
                if detail.action_options.get("subject") == "Order Tracking Spreadsheet Export":
                    return run.id
        return None

    return await eventually(check)


async def test_google_api_demos_create_a_sheet_list_and_create_drive_files(
    api: Ratchet, integration_fakes: IntegrationFakes
) -> None:
    await connect_google(api, integration_fakes)
    options = {
        "google_account__required": GOOGLE,
        "create_google_sheet_demo__boolean": True,
        "list_google_drive_files_demo__boolean": True,
        "create_google_drive_file_demo__boolean": True,
    }
    task_id = await import_library_task(
        api, "demonstration-create-sheets-and-list-and-create-files-in-google-drive", options
    )
    event_id = await api.tasks.run(task_id)
    actions = of_kind(await wait_for_runs(api, event_id, settled(4)), RunKind.action)
    details = [await api.runs.get(run.id) for run in actions]
    assert [d.state for d in details] == [RunState.succeeded] * 4
    sheet = next(d for d in details if d.action_options["url_path"] == "/sheets/v4/spreadsheets")
    spreadsheet_id = sheet.result["body"]["spreadsheetId"]
    assert integration_fakes.spreadsheets[spreadsheet_id][0].title == "Demo orders"
    created = next(d for d in details if d.action_options["url_path"].startswith("/upload/"))
    content = integration_fakes.drive[created.result["body"]["id"]].content.decode()
    assert content.startswith("This is a test file created by Mechanic at ")


async def test_forms_sheet_is_created_on_a_manual_run(api: Ratchet, integration_fakes: IntegrationFakes) -> None:
    await connect_google(api, integration_fakes)
    options = {
        "google_account__required": GOOGLE,
        "spreadsheet_title__required": "Form submissions",
        "form_id__number_required": 7,
    }
    task_id = await import_library_task(api, "add-new-shopify-forms-submissions-to-a-google-sheet", options)
    event_id = await api.tasks.run(task_id)
    [create] = of_kind(await wait_for_runs(api, event_id, settled(1)), RunKind.action)
    result = (await api.runs.get(create.id)).result
    assert result["title"] == "Form submissions"
    assert integration_fakes.sheet_rows(result["spreadsheet_id"]) == [["Name", "Email", "Birthday"]]


def test_strict_check_passes_library_tasks_using_the_integrations(capsys: pytest.CaptureFixture[str]) -> None:
    names = [
        "demonstration-post-to-a-slack-channel",
        "demonstration-add-new-orders-to-google-sheet",
        "add-new-shopify-forms-submissions-to-a-google-sheet",
        "demonstration-create-sheets-and-list-and-create-files-in-google-drive",
    ]
    assert run_check([CORPUS / f"{name}.json" for name in names], as_json=True, strict=True) == 0
    capsys.readouterr()
    # Report Toaster's API is private: its tasks still fail strict, saying why.
    assert run_check([CORPUS / "report-toaster-shipstation-integration.json"], as_json=True, strict=True) == 1
    [report] = json.loads(capsys.readouterr().out)
    assert any("Report Toaster's API is private" in w["message"] for w in report["warnings"])


async def test_upload_files_to_google_drive_with_generated_pdf_and_zip(
    api: Ratchet, integration_fakes: IntegrationFakes
) -> None:
    await connect_google(api, integration_fakes)
    options = {"google_account__required": GOOGLE, "overwrite_files_with_the_same_name__boolean": True}
    task_id = await import_library_task(api, "demonstration-upload-files-to-google-drive", options)
    event_id = await api.tasks.run(task_id)
    await wait_until_idle(api, event_id)
    [upload] = [
        r
        for r in of_kind(await wait_for_runs(api, event_id, all_terminal), RunKind.action)
        if r.action_type == "google_drive"
    ]
    assert upload.state == RunState.succeeded
    uploads = (await api.runs.get(upload.id)).result["uploads"]
    assert set(uploads) == {"simple.txt", "report.pdf", "data.csv", "chart.html", "package.zip"}
    pdf = integration_fakes.drive[uploads["report.pdf"]["id"]]
    assert pdf.mime_type == "application/pdf" and pdf.content.startswith(b"%PDF")
    archive = zipfile.ZipFile(io.BytesIO(integration_fakes.drive[uploads["package.zip"]["id"]].content))
    assert archive.read("data.csv") == b"id,name\n1,test"
    assert integration_fakes.drive[uploads["simple.txt"]["id"]].content.startswith(b"This is a simple text file\n")
