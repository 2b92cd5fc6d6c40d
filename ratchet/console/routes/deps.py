"""Dependencies routes share: the console's state and the shop in the path."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from ratchet.console.app import Console, console_of
from ratchet.services.shops import get_shop
from ratchet.store.tables import Shop

ConsoleDep = Annotated[Console, Depends(console_of)]


async def current_shop(shop: str, console: ConsoleDep) -> Shop:
    """The `{shop}` of `/s/{shop}/…`; an unknown shop is the 404 page (UnknownShop is a NotFound)."""
    return await console.read(get_shop, console.api.store, shop)


ShopDep = Annotated[Shop, Depends(current_shop)]
