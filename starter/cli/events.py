"""`ratchet event send|cancel`."""

from __future__ import annotations

from typing import Annotated

import typer

from starter.cli.common import AddressOpt, ShopOpt, connect, read_json_argument, run

app = typer.Typer(no_args_is_help=True, help="Send and cancel events.")


@app.command("send")
def event_send(
    topic: str,
    data: Annotated[str | None, typer.Option("--data", help="JSON, or @file.json.")] = None,
    run_at: Annotated[str | None, typer.Option("--run-at", help="ISO 8601 time or Unix seconds.")] = None,
    event_key: Annotated[
        str | None, typer.Option("--id", help="Idempotency key: the same key twice makes one event.")
    ] = None,
    shop: ShopOpt = "default",
    temporal_address: AddressOpt = None,
) -> None:
    """Send an event. Prints the event id last."""
    payload = read_json_argument(data) if data is not None else None

    async def go() -> None:
        api = await connect(temporal_address, shop)
        print(await api.events.send(topic, payload, run_at=run_at, idempotency_key=event_key))

    run(go())


@app.command("cancel")
def event_cancel(event_id: str, shop: ShopOpt = "default", temporal_address: AddressOpt = None) -> None:
    """Cancel an event that is still scheduled or queued: its waiting runs fail as cancelled."""

    async def go() -> None:
        api = await connect(temporal_address, shop)
        cancelled = await api.events.cancel(event_id)
        print(f"cancelled {len(cancelled.cancelled_run_ids)} waiting run(s) of event {cancelled.event_id}")

    run(go())
