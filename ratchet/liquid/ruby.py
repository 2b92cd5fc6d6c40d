"""Ruby value semantics that Liquid output and filters expose.

Mechanic renders with Shopify's Ruby Liquid, so what a template prints is what Ruby
prints: `nil` is empty, `true` is `true`, floats print as `Float#to_s` (`1.0e+20`),
hashes as `Hash#inspect` (`{"a"=>1}`), and arrays output as their flattened join.
Liquid's math goes through `BigDecimal` for floats (`Utils.to_number`), which is why
`2.525 | round: 2` is `2.53` and `0.1 | plus: 0.2` is `0.3`; `Decimal` plays that
role here.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

from liquid.builtin.expressions.primitive import Blank, Empty
from liquid.undefined import Undefined

Number = int | Decimal


class Newline(str):
    r"""The `newline` keyword's value: "\n" that `split`/`replace` read as `/\r?\n/`."""

    __slots__ = ()


NEWLINE = Newline("\n")


class RubyObject:
    """A value with its own Ruby `to_s` (e.g. `MatchData` prints the matched text)."""

    def to_s(self) -> str:
        raise NotImplementedError


def is_nil(value: object) -> bool:
    return value is None or isinstance(value, Undefined)


class BinaryString(str):
    """Bytes that are not (necessarily) UTF-8 (`gzip` output), one code point per byte."""

    __slots__ = ()


def to_bytes(value: object) -> bytes:
    """A Liquid string's bytes: UTF-8, or the raw bytes a `BinaryString` carries."""
    if isinstance(value, BinaryString):
        return value.encode("latin-1")
    if isinstance(value, bytes):
        return value
    return to_s(value).encode("utf-8")


def float_to_s(value: float) -> str:
    """Ruby `Float#to_s`: shortest round-trip digits, exponent form outside 1e-4..1e16."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    decpt = len(digit_tuple) + int(exponent)
    prefix = "-" if sign else ""
    if decpt > 0 and (decpt <= 15 or (decpt == 16 and len(digits) > decpt)):
        whole = digits[:decpt].ljust(decpt, "0")
        return f"{prefix}{whole}.{digits[decpt:] or '0'}"
    if -4 < decpt <= 0:
        return f"{prefix}0.{'0' * -decpt}{digits}"
    exp = decpt - 1
    return f"{prefix}{digits[0]}.{digits[1:] or '0'}e{'+' if exp >= 0 else '-'}{abs(exp):02d}"


def to_s(value: object) -> str:
    """Ruby `to_s` (what `append`, `replace` and friends see)."""
    if isinstance(value, str):
        return value
    if is_nil(value):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return float_to_s(value)
    if isinstance(value, Decimal):
        return float_to_s(float(value))
    if isinstance(value, RubyObject):
        return value.to_s()
    if isinstance(value, (list, tuple, dict, range)):
        return inspect(value)
    if isinstance(value, (Blank, Empty)):
        return ""
    return str(value)


def output(value: object) -> str:
    """What `{{ value }}` writes: arrays are flattened and joined, the rest `to_s`."""
    if type(value) is str:
        return value
    if isinstance(value, (list, tuple)):
        return "".join(output(item) for item in value)
    return to_s(value)


_INSPECT_ESCAPES = {
    "\n": "\\n",
    "\t": "\\t",
    "\r": "\\r",
    "\f": "\\f",
    "\v": "\\v",
    "\b": "\\b",
    "\a": "\\a",
    "\x1b": "\\e",
    '"': '\\"',
    "\\": "\\\\",
}
_INSPECT_SPECIAL = re.compile(r'[\x00-\x1f\x7f"\\]|#(?=[{$@])')


def _inspect_char(match: re.Match[str]) -> str:
    char = match.group(0)
    if char == "#":
        return "\\#"
    return _INSPECT_ESCAPES.get(char) or f"\\x{ord(char):02X}"


def inspect(value: object) -> str:
    """Ruby `inspect`, as hashes and arrays print inside strings."""
    if isinstance(value, str):
        return '"' + _INSPECT_SPECIAL.sub(_inspect_char, value) + '"'
    if is_nil(value):
        return "nil"
    if isinstance(value, RubyObject):
        return value.to_s()
    if isinstance(value, Mapping):
        if not value:
            return "{}"
        return "{" + ", ".join(f"{inspect(k)}=>{inspect(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(inspect(item) for item in value) + "]"
    if isinstance(value, range):
        return f"{value.start}..{value.stop - 1}"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %z")
    return to_s(value)


_LEADING_INT = re.compile(r"\s*([+-]?\d+(?:_\d+)*)")
_DECIMAL_STRING = re.compile(r"-?\d+\.\d+")


def string_to_i(text: str) -> int:
    """Ruby `String#to_i`: the leading integer, 0 when there is none."""
    found = _LEADING_INT.match(text)
    return int(found.group(1).replace("_", "")) if found else 0


def to_number(value: object) -> Number:
    """Liquid's `Utils.to_number`: floats and decimal strings become `Decimal`."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return Decimal(repr(value)) if math.isfinite(value) else Decimal(float_to_s(value))
    if isinstance(value, Decimal):
        return value
    if isinstance(value, str):
        stripped = value.strip()
        if _DECIMAL_STRING.fullmatch(stripped):
            return Decimal(stripped)
        return string_to_i(value)
    return 0


def to_integer(value: object) -> int:
    """Liquid's `Utils.to_integer` (Ruby `Integer(str)`), for lengths and offsets."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = to_s(value).strip().replace("_", "")
    try:
        return int(text, 0) if not re.fullmatch(r"[+-]?0\d+", text) else int(text, 8)
    except ValueError:
        raise InvalidInteger from None


class InvalidInteger(ValueError):
    """A length or offset that Ruby's `Integer()` would reject."""


def number_result(value: Number) -> int | float:
    """Ruby filters hand BigDecimal results back as Float."""
    return float(value) if isinstance(value, Decimal) else value


def floor_mod(left: Number, right: Number) -> Number:
    """Ruby `%`: the result takes the divisor's sign (Python's Decimal truncates)."""
    if isinstance(left, int) and isinstance(right, int):
        return left % right
    result = Decimal(left) % Decimal(right)
    if result and (result < 0) != (right < 0):
        result += Decimal(right)
    return result


def divide(left: Number, right: Number) -> Number:
    """Ruby `/`: integer division floors; BigDecimal by zero is +-Infinity or NaN."""
    if isinstance(left, int) and isinstance(right, int):
        return left // right
    if right == 0:
        if left == 0:
            return Decimal("NaN")
        return Decimal("Infinity") if (left > 0) == (Decimal(right).is_signed() is False) else Decimal("-Infinity")
    try:
        return Decimal(left) / Decimal(right)
    except InvalidOperation:
        return Decimal("NaN")
