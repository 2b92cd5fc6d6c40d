"""Shopify's standard Liquid filters with Ruby Liquid 5's exact semantics.

Each filter follows `Liquid::StandardFilters` (liquid 5.4): strings through Ruby's
`to_s`, numbers through `Utils.to_number` (floats as BigDecimal), array filters over
Ruby's `InputIterator` (nested arrays flattened, a hash is one item, nil is empty).
The differential suite in tests/liquid/golden pins every behaviour here against the
reference implementation. Mechanic's extensions of some of these (`slice` and
`compact` on hashes) live in `collections.py`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote_plus, unquote_plus

from liquid import Environment
from liquid.exceptions import FilterArgumentError, LiquidError
from liquid.undefined import Undefined

from ..lazy import LazySequence
from ..limits import check_size
from ..ruby import (
    InvalidInteger,
    Newline,
    Number,
    RubyObject,
    divide,
    floor_mod,
    is_nil,
    number_result,
    to_bytes,
    to_integer,
    to_number,
    to_s,
)


class ZeroDivision(LiquidError):
    """Ruby's ZeroDivisionError, surfaced as Liquid's."""


def _integer(value: object) -> int:
    try:
        return to_integer(value)
    except InvalidInteger:
        raise FilterArgumentError("invalid integer", token=None) from None


def _property_error(prop: object) -> FilterArgumentError:
    return FilterArgumentError(f"cannot select the property '{to_s(prop)}'", token=None)


def _flatten(items: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for item in items:
        if isinstance(item, (list, tuple)):
            out.extend(_flatten(item))
        else:
            out.append(item)
    return out


def input_items(value: object) -> Sequence[Any]:
    """Ruby Liquid's `InputIterator`: what array filters iterate over."""
    if isinstance(value, (list, tuple)):
        return _flatten(value)
    if isinstance(value, LazySequence):
        # bulkOperation.objects: iterated line by line, never copied whole (its items are hashes).
        return value
    if is_nil(value):  # before Mapping: python-liquid's Undefined is a Mapping
        return []
    if isinstance(value, Mapping):
        return [value]
    if isinstance(value, range):
        check_size(8 * len(value), "a range")
        return list(value)
    return [value]


def _index(item: object, prop: object) -> object:
    """Ruby `item[prop]` as the property filters use it; TypeError -> property error."""
    if isinstance(item, Mapping):
        try:
            return item.get(prop)
        except TypeError:
            return None
    if isinstance(item, RubyObject):
        try:
            return item[prop]  # type: ignore[index]  # Ruby objects answer [] like hashes
        except KeyError:
            return None
    if isinstance(item, str):
        if isinstance(prop, str):
            return prop if prop in item else None
        if isinstance(prop, int) and not isinstance(prop, bool):
            return item[prop] if -len(item) <= prop < len(item) else None
        raise _property_error(prop)
    if isinstance(item, (list, tuple)) or (isinstance(item, int) and not isinstance(item, bool)):
        if isinstance(prop, int) and not isinstance(prop, bool):
            if isinstance(item, int):
                return (item >> prop) & 1 if prop >= 0 else 0
            return item[prop] if -len(item) <= prop < len(item) else None
        raise _property_error(prop)
    return None


def _responds_to_index(item: object) -> bool:
    return isinstance(item, (Mapping, str, list, tuple, RubyObject)) or (
        isinstance(item, int) and not isinstance(item, bool)
    )


# Strings ------------------------------------------------------------------------

_RUBY_WHITESPACE = " \t\n\v\f\r"
_NEWLINE = re.compile(r"\r?\n")


def append(value: object, other: object) -> str:
    left, right = to_s(value), to_s(other)
    check_size(len(left) + len(right), "append")
    return left + right


def prepend(value: object, other: object) -> str:
    left, right = to_s(other), to_s(value)
    check_size(len(left) + len(right), "prepend")
    return left + right


def downcase(value: object) -> str:
    return to_s(value).lower()


def upcase(value: object) -> str:
    return to_s(value).upper()


def capitalize(value: object) -> str:
    text = to_s(value)
    return text[:1].upper() + text[1:].lower()


def strip(value: object) -> str:
    return to_s(value).strip(_RUBY_WHITESPACE + "\0")


def lstrip(value: object) -> str:
    return to_s(value).lstrip(_RUBY_WHITESPACE)


def rstrip(value: object) -> str:
    return to_s(value).rstrip(_RUBY_WHITESPACE + "\0")


def escape(value: object) -> str | None:
    if is_nil(value):
        return None
    return html.escape(to_s(value)).replace("&#x27;", "&#39;")


_ESCAPE_ONCE = re.compile(r"[\"><']|&(?!([a-zA-Z]+|(#\d+));)")
_HTML_ESCAPES = {"&": "&amp;", ">": "&gt;", "<": "&lt;", '"': "&quot;", "'": "&#39;"}


def escape_once(value: object) -> str:
    return _ESCAPE_ONCE.sub(lambda m: _HTML_ESCAPES[m.group(0)], to_s(value))


def url_encode(value: object) -> str | None:
    return None if is_nil(value) else quote_plus(to_s(value), safe="")


def url_decode(value: object) -> str | None:
    return None if is_nil(value) else unquote_plus(to_s(value))


def base64_encode(value: object) -> str:
    return base64.b64encode(to_bytes(value)).decode("ascii")


def base64_url_safe_encode(value: object) -> str:
    return base64.urlsafe_b64encode(to_bytes(value)).decode("ascii")


def _b64decode(value: object, decoder: Callable[[bytes], bytes], name: str) -> str:
    try:
        data = decoder(to_bytes(value))
    except (binascii.Error, ValueError):
        raise FilterArgumentError(f"invalid base64 provided to {name}", token=None) from None
    return data.decode("utf-8", errors="replace")


def base64_decode(value: object) -> str:
    return _b64decode(value, lambda b: base64.b64decode(b, validate=True), "base64_decode")


def base64_url_safe_decode(value: object) -> str:
    return _b64decode(value, base64.urlsafe_b64decode, "base64_url_safe_decode")


def _slice_sequence(seq: Any, offset: int, length: int) -> Any:
    """Ruby `Array#slice(offset, length)` / `String#slice`; None where Ruby gives nil."""
    size = len(seq)
    if offset < 0:
        offset += size
    if offset < 0 or offset > size or length < 0:
        return None
    return seq[offset : offset + length]


def slice_(value: object, offset: object, length: object = None) -> object:
    start = _integer(offset)
    count = 1 if length is None or isinstance(length, Undefined) else _integer(length)
    if isinstance(value, (list, tuple)):
        found = _slice_sequence(list(value), start, count)
        if count == 1:
            # Mechanic documents a single element for length 1, not a one-item array.
            return found[0] if found else None
        return found or []
    return _slice_sequence(to_s(value), start, count) or ""


def truncate(value: object, length: object = 50, ellipsis: object = "...") -> str | None:
    if is_nil(value):
        return None
    text = to_s(value)
    limit = _integer(length)
    end = to_s(ellipsis)
    keep = max(limit - len(end), 0)
    return text[:keep] + end if len(text) > limit else text


_WORD = re.compile(r"[^ \t\n\v\f\r]+")


def truncatewords(value: object, words: object = 15, ellipsis: object = "...") -> str | None:
    if is_nil(value):
        return None
    text = to_s(value)
    count = max(_integer(words), 1)
    found = _WORD.findall(text)
    if len(found) <= count:
        return text
    return " ".join(found[:count]) + to_s(ellipsis)


def split(value: object, separator: object) -> list[str]:
    """Ruby `String#split`: " " splits on whitespace runs; trailing empties dropped."""
    text = to_s(value)
    sep = to_s(separator)
    if not text:
        return []
    if sep == " ":
        return text.split()
    if isinstance(separator, Newline):
        parts = _NEWLINE.split(text)
    elif sep == "":
        parts = list(text)
    else:
        parts = text.split(sep)
    while parts and parts[-1] == "":
        parts.pop()
    return parts


_STRIP_HTML_BLOCKS = re.compile(r"<script.*?</script>|<!--.*?-->|<style.*?</style>", re.DOTALL)
_STRIP_HTML_TAGS = re.compile(r"<.*?>", re.DOTALL)


def strip_html(value: object) -> str:
    return _STRIP_HTML_TAGS.sub("", _STRIP_HTML_BLOCKS.sub("", to_s(value)))


def strip_newlines(value: object) -> str:
    return _NEWLINE.sub("", to_s(value))


def newline_to_br(value: object) -> str:
    return _NEWLINE.sub("<br />\n", to_s(value))


def replace(value: object, search: object, replacement: object = "") -> str:
    text, find, new = to_s(value), to_s(search), to_s(replacement)
    if isinstance(search, Newline):  # Mechanic: `newline` matches "\r\n" too
        return _NEWLINE.sub(lambda _: new, text)
    if len(new) > len(find):
        # Each match grows the text: refuse before building something huge.
        matches = text.count(find) if find else len(text) + 1
        check_size(len(text) + matches * (len(new) - len(find)), "replace")
    return text.replace(find, new)


def replace_first(value: object, search: object, replacement: object = "") -> str:
    if isinstance(search, Newline):
        return _NEWLINE.sub(lambda _: to_s(replacement), to_s(value), count=1)
    return to_s(value).replace(to_s(search), to_s(replacement), 1)


def replace_last(value: object, search: object, replacement: object) -> str:
    text, find = to_s(value), to_s(search)
    at = text.rfind(find)
    if at < 0:
        return text
    return text[:at] + to_s(replacement) + text[at + len(find) :]


def remove(value: object, search: object) -> str:
    return replace(value, search, "")


def remove_first(value: object, search: object) -> str:
    return replace_first(value, search, "")


def remove_last(value: object, search: object) -> str:
    return replace_last(value, search, "")


def size(value: object) -> int:
    if isinstance(value, (str, list, tuple, Mapping, range)):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return 8  # Ruby Integer#size: bytes in a machine word
    return 0


# Arrays -------------------------------------------------------------------------


def first(value: object) -> object:
    if isinstance(value, (list, tuple, range)):
        return value[0] if len(value) else None
    if isinstance(value, str):
        return value[:1]  # ActiveSupport String#first
    if isinstance(value, Mapping):
        return [*next(iter(value.items()))] if value else None
    return None


def last(value: object) -> object:
    if isinstance(value, (list, tuple, range)):
        return value[-1] if len(value) else None
    if isinstance(value, str):
        return value[-1:]
    return None


def join(value: object, glue: object = " ") -> str:
    parts = [to_s(item) for item in input_items(value)]
    separator = to_s(glue)
    check_size(sum(map(len, parts)) + len(separator) * max(len(parts) - 1, 0), "join")
    return separator.join(parts)


def _ruby_cmp(left: object, right: object) -> int | None:
    """Ruby `<=>` between two Liquid values; None when they are not comparable."""
    if isinstance(left, (int, float, Decimal)) and isinstance(right, (int, float, Decimal)):
        if isinstance(left, bool) or isinstance(right, bool):
            return 0 if left is right else None
        return (left > right) - (left < right)
    if isinstance(left, str) and isinstance(right, str):
        return (left > right) - (left < right)
    if isinstance(left, list) and isinstance(right, list):
        for a, b in zip(left, right, strict=False):
            result = _ruby_cmp(a, b)
            if result != 0:
                return result
        return (len(left) > len(right)) - (len(left) < len(right))
    if left is right or (left is None and right is None):
        return 0
    return None


def _nil_safe_compare(left: object, right: object) -> int:
    left = None if isinstance(left, Undefined) else left
    right = None if isinstance(right, Undefined) else right
    result = _ruby_cmp(left, right)
    if result is not None:
        return result
    if left is None:
        return 1
    if right is None:
        return -1
    raise FilterArgumentError("cannot sort values of incompatible types", token=None)


def _all_indexable(items: Sequence[Any]) -> bool:
    return all(_responds_to_index(item) for item in items)


def sort(value: object, prop: object = None) -> list[Any] | None:
    items = input_items(value)
    if not items:
        return []
    if is_nil(prop):
        return sorted(items, key=functools.cmp_to_key(_nil_safe_compare))
    if not _all_indexable(items):
        return None
    keys = [_index(item, prop) for item in items]

    def compare(a: int, b: int) -> int:
        return _nil_safe_compare(keys[a], keys[b])

    return [items[i] for i in sorted(range(len(items)), key=functools.cmp_to_key(compare))]


_ASCII_FOLD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _casecmp_key(value: object) -> tuple[bool, str]:
    # Ruby's nil_safe_casecmp puts nils last; casecmp folds ASCII letters only.
    return (is_nil(value), "" if is_nil(value) else to_s(value).translate(_ASCII_FOLD))


def sort_natural(value: object, prop: object = None) -> list[Any] | None:
    items = input_items(value)
    if not items:
        return []
    if is_nil(prop):
        return sorted(items, key=_casecmp_key)
    if not _all_indexable(items):
        return None
    return sorted(items, key=lambda item: _casecmp_key(_index(item, prop)))


def ruby_equal(left: object, right: object) -> bool:
    # Ruby: true and 1 differ; 1 == 1.0 holds as in Python.
    if isinstance(left, bool) or isinstance(right, bool):
        return left is right
    return bool(left == right)


def where(value: object, prop: object, target: object = None) -> list[Any] | None:
    items = input_items(value)
    if not items:
        return []
    selected = []
    for item in items:
        if not _responds_to_index(item):
            return None
        found = _index(item, prop)
        if (is_nil(target) and found is not None and found is not False) or (
            not is_nil(target) and ruby_equal(found, target)
        ):
            selected.append(item)
    return selected


def _hash_key(value: object) -> object:
    """Ruby `eql?` identity: 1, 1.0 and true are three different values."""
    if isinstance(value, Mapping):
        return ("h", tuple((_hash_key(k), _hash_key(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return ("a", tuple(_hash_key(v) for v in value))
    if isinstance(value, Undefined):
        return ("n", None)
    return (type(value).__name__, value)


def _unique(items: Sequence[Any], key: Callable[[Any], object]) -> list[Any]:
    seen: set[object] = set()
    out = []
    for item in items:
        marker = _hash_key(key(item))
        if marker not in seen:
            seen.add(marker)
            out.append(item)
    return out


def uniq(value: object, prop: object = None) -> list[Any] | None:
    items = input_items(value)
    if is_nil(prop):
        return _unique(items, lambda item: item)
    if not items:
        return []
    if not _all_indexable(items):
        return None
    return _unique(items, lambda item: _index(item, prop))


def compact(value: object, prop: object = None) -> list[Any] | None:
    items = input_items(value)
    if is_nil(prop):
        return [item for item in items if not is_nil(item)]
    if not items:
        return []
    if not _all_indexable(items):
        return None
    return [item for item in items if not is_nil(_index(item, prop))]


def reverse(value: object) -> list[Any]:
    return list(input_items(value))[::-1]


def map_(value: object, prop: object) -> list[Any]:
    out = []
    for item in input_items(value):
        if prop == "to_liquid":
            out.append(item)
        elif _responds_to_index(item):
            out.append(_index(item, prop))
        else:
            out.append(None)
    return out


def concat(value: object, other: object) -> list[Any]:
    # Mechanic tasks concatenate optional lists; nil is accepted as empty there.
    if is_nil(other):
        return list(input_items(value))
    if not isinstance(other, (list, tuple)):
        raise FilterArgumentError("concat filter requires an array argument", token=None)
    return [*input_items(value), *other]


def default(value: object, fallback: object = "", *, allow_false: object = False) -> object:
    false_counts = allow_false is False or is_nil(allow_false)
    missing = is_nil(value) or (false_counts and value is False)
    if missing or (isinstance(value, (str, list, tuple, Mapping)) and not value):
        return fallback
    return value


# Math ---------------------------------------------------------------------------


def _arithmetic(left: object, right: object, operation: Callable[[Number, Number], Number]) -> int | float:
    return number_result(operation(to_number(left), to_number(right)))


def plus(value: object, operand: object) -> int | float:
    return _arithmetic(value, operand, lambda a, b: a + b)


def minus(value: object, operand: object) -> int | float:
    return _arithmetic(value, operand, lambda a, b: a - b)


def times(value: object, operand: object) -> int | float:
    return _arithmetic(value, operand, lambda a, b: a * b)


def divided_by(value: object, operand: object) -> int | float:
    left, right = to_number(value), to_number(operand)
    if right == 0 and isinstance(left, int) and isinstance(right, int):
        raise ZeroDivision("divided by 0", token=None)
    return number_result(divide(left, right))


def modulo(value: object, operand: object) -> int | float:
    left, right = to_number(value), to_number(operand)
    if right == 0:
        raise ZeroDivision("divided by 0", token=None)
    return number_result(floor_mod(left, right))


def abs_(value: object) -> int | float:
    number = to_number(value)
    return number_result(abs(number) if isinstance(number, int) else number.copy_abs())


def _finite(number: Number, name: str) -> Number:
    if isinstance(number, Decimal) and not number.is_finite():
        raise FilterArgumentError(f"{name}: {number} is not a finite number", token=None)
    return number


def round_(value: object, digits: object = 0) -> int | float:
    number = _finite(to_number(value), "round")
    places = int(to_number(digits))
    if isinstance(number, int):
        if places >= 0:
            return number
        return int(Decimal(number).quantize(Decimal(f"1E{-places}"), rounding=ROUND_HALF_UP))
    rounded = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    # Ruby: BigDecimal#round(n <= 0) is an Integer.
    if places <= 0:
        return int(rounded)
    return float(rounded)


def ceil(value: object) -> int:
    number = _finite(to_number(value), "ceil")
    return number if isinstance(number, int) else int(number.to_integral_value(rounding=ROUND_CEILING))


def floor(value: object) -> int:
    number = _finite(to_number(value), "floor")
    return number if isinstance(number, int) else int(number.to_integral_value(rounding=ROUND_FLOOR))


def at_least(value: object, minimum: object) -> int | float:
    bound, number = to_number(minimum), to_number(value)
    return number_result(bound if bound > number else number)


def at_most(value: object, maximum: object) -> int | float:
    bound, number = to_number(maximum), to_number(value)
    return number_result(bound if bound < number else number)


FILTERS: dict[str, Callable[..., Any]] = {
    "append": append,
    "prepend": prepend,
    "downcase": downcase,
    "upcase": upcase,
    "capitalize": capitalize,
    "strip": strip,
    "lstrip": lstrip,
    "rstrip": rstrip,
    "escape": escape,
    "h": escape,
    "escape_once": escape_once,
    "url_encode": url_encode,
    "url_decode": url_decode,
    "base64_encode": base64_encode,
    "base64_decode": base64_decode,
    "base64_url_safe_encode": base64_url_safe_encode,
    "base64_url_safe_decode": base64_url_safe_decode,
    "slice": slice_,
    "truncate": truncate,
    "truncatewords": truncatewords,
    "split": split,
    "strip_html": strip_html,
    "strip_newlines": strip_newlines,
    "newline_to_br": newline_to_br,
    "replace": replace,
    "replace_first": replace_first,
    "replace_last": replace_last,
    "remove": remove,
    "remove_first": remove_first,
    "remove_last": remove_last,
    "size": size,
    "first": first,
    "last": last,
    "join": join,
    "sort": sort,
    "sort_natural": sort_natural,
    "where": where,
    "uniq": uniq,
    "compact": compact,
    "reverse": reverse,
    "map": map_,
    "concat": concat,
    "default": default,
    "plus": plus,
    "minus": minus,
    "times": times,
    "divided_by": divided_by,
    "modulo": modulo,
    "abs": abs_,
    "round": round_,
    "ceil": ceil,
    "floor": floor,
    "at_least": at_least,
    "at_most": at_most,
}


def register(env: Environment) -> None:
    for name, func in FILTERS.items():
        env.add_filter(name, func)
