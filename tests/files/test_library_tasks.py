"""Mechanic library tasks that generate files, run unchanged end to end.

A PDF invoice mailed as an attachment, a PDF kept by the files action and handed to Shopify, a CSV
uploaded over SFTP.
"""

from __future__ import annotations

import asyncio
import csv
import json
import re
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from ratchet.core.bulk_operations import BULK_OPERATION_TOPIC
from ratchet.core.runs import RunKind, RunState
from starter.api import Ratchet
from tests.support.engine import TIME_SCALE
from tests.support.ingress import SHOPIFY_SECRET, Ingress
from tests.support.servers import SmtpServer
from tests.support.shopify_fake import ShopifyFake
from tests.support.transfer_servers import PASSWORD, USER, TransferServer
from tests.support.waiting import eventually, of_kind, settled, wait_for_children, wait_for_runs

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "tasks"


def library_task(name: str, **options: Any) -> dict[str, Any]:
    export = json.loads((CORPUS / f"{name}.json").read_text())
    export["options"].update(options)
    return export


def pdf_text(content: bytes, tmp_path: Path) -> str:
    path = tmp_path / "received.pdf"
    path.write_bytes(content)
    return subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout


async def connect_shop(api: Ratchet, fake: ShopifyFake) -> None:
    fake.reset(time_scale=TIME_SCALE)
    await api.shops.set(
        api.settings.shop, shopify_domain=fake.base_url, access_token=fake.access_token, webhook_secret=SHOPIFY_SECRET
    )


async def test_pdf_invoice_is_mailed_as_an_attachment(api: Ratchet, smtp_env: SmtpServer, tmp_path: Path) -> None:
    await api.tasks.import_(library_task("send-a-pdf-invoice-when-an-order-is-created"))
    order = {
        "id": 1001,
        "name": "#1001",
        "order_number": 1001,
        "email": "customer@example.com",
        "financial_status": "pending",
        "line_items": [
            {"quantity": 2, "title": "Red T-Shirt", "price": "19.00"},
            {"quantity": 1, "title": "Blue Mug", "price": "8.50"},
        ],
        "total_line_items_price": "46.50",
        "total_discounts": "0.00",
        "subtotal_price": "46.50",
        "total_price": "51.00",
    }
    event_id = await api.events.send("shopify/orders/create", order)
    [action] = of_kind(await wait_for_runs(api, event_id, settled(1)), RunKind.action)
    assert action.state == RunState.succeeded, action.error
    [(envelope, message)] = smtp_env.handler.delivered(action.id)
    assert envelope.rcpt_tos == ["customer@example.com"]
    assert message["Subject"] == "Attached: Invoice for order #1001"
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "invoice-1001.pdf"
    assert attachment.get_content_type() == "application/pdf"
    text = pdf_text(attachment.get_content(), tmp_path)
    assert "Order #1001" in text
    assert re.search(r"2 x Red T-Shirt: \S*19\.00", text) and re.search(r"1 x Blue Mug: \S*8\.50", text)
    assert re.search(r"Total \(including taxes, shipping, tips\): \S*51\.00", text)


async def test_files_action_result_feeds_the_next_run(
    api: Ratchet, shopify_fake_server: ShopifyFake, ingress: Ingress, tmp_path: Path
) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    fake.on_graphql("fileCreate", {"fileCreate": {"files": [{"fileStatus": "UPLOADED"}], "userErrors": []}})
    task = (await api.tasks.import_(library_task("demonstration-generate-a-file-and-upload-to-shopify"))).task
    trigger = await api.tasks.run(task.name)
    [files_run] = of_kind(await wait_for_runs(api, trigger, settled(1)), RunKind.action)
    assert files_run.state == RunState.succeeded, files_run.error
    [perform] = await wait_for_children(api, trigger, "mechanic/actions/perform")
    [upload] = of_kind(await wait_for_runs(api, perform.id, settled(1)), RunKind.action)
    assert upload.state == RunState.succeeded, upload.error

    # Shopify was handed the files action's URL, which serves the generated PDF.
    [create] = [r for r in fake.requests if isinstance(r.json, dict) and "fileCreate" in str(r.json.get("query"))]
    url = re.search(r'originalSource: "([^"]+)"', str(create.json["query"])).group(1)  # type: ignore[union-attr]
    result = (await api.runs.get(files_run.id)).result["invoice.pdf"]
    assert url == result["url"] and result["mime_type"] == "application/pdf"
    async with httpx.AsyncClient() as http:
        # The worker's settings name the default ingress address; this test's ingress has its own port.
        response = await http.get(ingress.url + urlsplit(url).path)
    assert response.status_code == 200 and len(response.content) == result["size"]
    assert "Order #12345" in pdf_text(response.content, tmp_path)


def _preview_objects(script: str) -> list[dict[str, Any]]:
    """The bulk operation result the task's own preview uses (Shopify's JSONL shape)."""
    jsonl = script.split('{% elsif event.topic == "mechanic/shopify/bulk_operation" %}', 1)[1]
    jsonl = jsonl.split("{% capture jsonl_string %}", 1)[1].split("{% endcapture %}", 1)[0]
    return [json.loads(line) for line in jsonl.strip().splitlines()]


async def test_product_export_is_uploaded_over_sftp(
    api: Ratchet, shopify_fake_server: ShopifyFake, ingress: Ingress, sftp_server: TransferServer
) -> None:
    fake = shopify_fake_server
    await connect_shop(api, fake)
    (sftp_server.root / "exports").mkdir()
    export = library_task(
        "export-all-products-to-sftp-as-a-shopify-friendly-csv",
        sftp_host__required="127.0.0.1",
        sftp_port__required_number=sftp_server.port,
        sftp_user__required=USER,
        sftp_password__required=PASSWORD,
        sftp_upload_directory="exports",
    )
    task = (await api.tasks.import_(export)).task
    trigger = await api.tasks.run(task.name)
    await wait_for_runs(api, trigger, settled(1))

    async def running() -> list[Any]:
        return fake.running_bulk_operations()

    [operation] = await eventually(running)
    fake.complete_bulk_operation(operation.gid, _preview_objects(export["script"]))
    response = await asyncio.to_thread(
        fake.send_bulk_finish_webhook,
        operation.gid,
        f"{ingress.url}/webhooks/shopify/{api.settings.shop}",
        SHOPIFY_SECRET,
    )
    assert response.status_code == 200, response.text
    [bulk_event] = await wait_for_children(api, trigger, BULK_OPERATION_TOPIC)
    [upload] = of_kind(await wait_for_runs(api, bulk_event.id, settled(1)), RunKind.action)
    assert upload.state == RunState.succeeded, upload.error

    [csv_file] = list((sftp_server.root / "exports").glob("products__*.csv"))
    rows = csv_file.read_text().splitlines()
    # One product row (the product's first variant with its first image), in Shopify's CSV columns.
    [product] = list(csv.DictReader(rows))
    assert product["Handle"] == "preview-product" and product["Title"] == "Preview product"
    assert product["Variant SKU"] == "PREVIEW-123" and product["Variant Price"] == "15.99"
    assert product["Image Src"].endswith("preview-productr.jpg?v=1234567890")
    # The task left `groupObjects` unset; Ratchet asked for the grouped order it was written for.
    [start] = [r for r in fake.requests if "bulkOperationRunQuery" in str(r.json)]
    assert "groupObjects: true" in str(start.json)
    result = (await api.runs.get(upload.id)).result
    assert result["uploads"] == {f"exports/{csv_file.name}": {"size": csv_file.stat().st_size}}
