"""`/` and `/s/{shop}`: to the default shop's Events, the page Mechanic users live on."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import RedirectResponse

from ratchet.console.routes.deps import ConsoleDep, ShopDep

router = APIRouter()


@router.get("/")
async def home(console: ConsoleDep) -> RedirectResponse:
    return RedirectResponse(f"/s/{console.default_shop}/events", status_code=303)


@router.get("/s/{shop}")
async def shop_home(shop: ShopDep) -> RedirectResponse:
    return RedirectResponse(f"/s/{shop.id}/events", status_code=303)
