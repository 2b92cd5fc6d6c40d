"""`ratchet schedule sync`: the Temporal Schedules behind `mechanic/scheduler/*` topics."""

from __future__ import annotations

from typing import Annotated

import typer

from starter.cli.common import AddressOpt, connect, out, run

app = typer.Typer(no_args_is_help=True, help="Temporal Schedules behind mechanic/scheduler/* topics.")


@app.command("sync")
def schedule_sync(
    shop: Annotated[str | None, typer.Option("--shop", help="One shop (default: every shop).")] = None,
    temporal_address: AddressOpt = None,
) -> None:
    """Create, update and delete scheduler schedules to match enabled tasks and shop time zones."""

    async def go() -> None:
        api = await connect(temporal_address)
        results = await api.schedules.sync_all() if shop is None else [await api.schedules.sync(shop)]
        for r in results:
            out.print(
                f"{r.shop_id} ({r.time_zone}): {', '.join(t.rsplit('/', 1)[1] for t in r.active) or 'no scheduler topics'}"
                + (f"; created {len(r.created)}" if r.created else "")
                + (f"; removed {len(r.deleted)}" if r.deleted else "")
            )

    run(go())
