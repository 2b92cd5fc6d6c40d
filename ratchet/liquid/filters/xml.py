"""`parse_xml`: Rails' `Hash.from_xml`, which Mechanic calls.

The root element becomes a one-key hash; an element
with only text becomes that text, attributes dropped; repeated children become an array; an
empty element is nil; `type="integer|float|decimal|double|boolean|array|string"` attributes
cast as Rails does. Names keep their namespace prefixes (`ns:tag`), as REXML reports them.
Parsed by expat, which resolves no external entities and refuses entity expansion bombs.
"""

from __future__ import annotations

from typing import Any
from xml.parsers import expat

from liquid import Environment
from liquid.exceptions import FilterArgumentError

from ..ruby import to_s

CONTENT = "__content__"


class _Element:
    __slots__ = ("attributes", "children", "name", "texts")

    def __init__(self, name: str, attributes: dict[str, str]) -> None:
        self.name = name
        self.attributes = attributes
        self.children: list[_Element] = []
        self.texts: list[str] = []


def _parse(text: str) -> _Element:
    parser = expat.ParserCreate()
    stack: list[_Element] = []
    roots: list[_Element] = []

    def start(name: str, attributes: dict[str, str]) -> None:
        element = _Element(name, attributes)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_name: str) -> None:
        stack.pop()

    def data(chunk: str) -> None:
        if stack:
            stack[-1].texts.append(chunk)

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = data
    parser.Parse(text, True)
    return roots[0]


def _merge(target: dict[str, Any], key: str, value: Any) -> None:
    if key in target:
        existing = target[key]
        target[key] = [*existing, value] if isinstance(existing, list) else [existing, value]
    else:
        target[key] = value


def _collapse(element: _Element) -> dict[str, Any]:
    """XmlMini (REXML) shape: attributes, children by name, text under `__content__`."""
    collapsed: dict[str, Any] = dict(element.attributes)
    text = "".join(element.texts)
    for child in element.children:
        _merge(collapsed, child.name, _collapse(child))
    if element.texts and (not element.children or text.strip()):
        _merge(collapsed, CONTENT, text)
    return collapsed


_CASTS = {
    "integer": lambda s: int(s.strip()),
    "float": lambda s: float(s.strip()),
    "double": lambda s: float(s.strip()),
    "decimal": lambda s: float(s.strip()),
    "boolean": lambda s: s.strip() in ("1", "true"),
}


def _typecast(value: Any) -> Any:
    """ActiveSupport's `typecast_xml_value`, for the types JSON can carry."""
    if isinstance(value, list):
        return [_typecast(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get("type")
    if kind == "array":
        entries = next((v for v in value.values() if not isinstance(v, str)), None)
        if entries is None or value.get(CONTENT) == "":
            return []
        return [_typecast(v) for v in entries] if isinstance(entries, list) else [_typecast(entries)]
    content = value.get(CONTENT)
    if content is not None and (len(value) == 1 or content.strip()):
        cast = _CASTS.get(kind) if isinstance(kind, str) else None
        try:
            return cast(content) if cast else content
        except ValueError:
            return content
    if kind == "string" and value.get("nil") != "true":
        return ""
    if not value or value.get("nil") == "true" or (isinstance(kind, str) and len(value) == 1):
        return None
    return {k: _typecast(v) for k, v in value.items()}


def parse_xml(value: object) -> dict[str, Any]:
    try:
        root = _parse(to_s(value))
    except expat.ExpatError as err:
        raise FilterArgumentError(
            f"parse_xml: invalid XML: {expat.errors.messages[err.code]} (line {err.lineno})", token=None
        ) from err
    return {root.name: _typecast(_collapse(root))}


def register(env: Environment) -> None:
    env.add_filter("parse_xml", parse_xml)
