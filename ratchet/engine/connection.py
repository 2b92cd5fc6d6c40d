"""Connecting to Temporal, and the search attributes Ratchet's workflows carry."""

from __future__ import annotations

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client
from temporalio.common import SearchAttributeKey
from temporalio.contrib.pydantic import pydantic_data_converter

from ratchet.config import Settings

SHOP_ID = SearchAttributeKey.for_keyword("ShopId")
TOPIC = SearchAttributeKey.for_keyword("Topic")
RUN_STATE = SearchAttributeKey.for_keyword("RunState")
TASK_NAMES = SearchAttributeKey.for_keyword_list("TaskNames")

SEARCH_ATTRIBUTES: dict[str, str] = {
    "ShopId": "Keyword",
    "Topic": "Keyword",
    "RunState": "Keyword",
    "TaskNames": "KeywordList",
}


async def connect(settings: Settings, address: str | None = None) -> Client:
    return await Client.connect(
        address or settings.effective_temporal_address,
        namespace=settings.namespace,
        data_converter=pydantic_data_converter,
        api_key=settings.temporal_api_key,
        tls=settings.temporal_tls,
    )


async def ensure_search_attributes(client: Client) -> None:
    """Register our search attributes on a cluster that lacks them (the dev server gets them as flags)."""
    existing = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=client.namespace)
    )
    missing = {
        name: getattr(IndexedValueType, f"INDEXED_VALUE_TYPE_{kind.upper().replace('KEYWORDLIST', 'KEYWORD_LIST')}")
        for name, kind in SEARCH_ATTRIBUTES.items()
        if name not in existing.custom_attributes
    }
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=client.namespace, search_attributes=missing)
        )
