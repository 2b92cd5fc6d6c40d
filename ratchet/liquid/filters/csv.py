r"""`csv` (array of rows -> CSV text) and `parse_csv` (text -> rows, or hashes with `headers: true`).

Both match Ruby's CSV defaults (comma, `"` quoting, `\n` rows), with Mechanic's
options: `delimiter` (both; positional for `csv`) and `include_bom` (`csv`).
"""

from __future__ import annotations

import csv as csv_module
import io
from typing import Any

from liquid import Environment
from liquid.exceptions import FilterArgumentError
from liquid.undefined import Undefined

from .json import to_json


def _cell(value: object) -> str:
    if value is None or isinstance(value, Undefined):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return to_json(value)
    return str(value)


def _delimiter(value: object, name: str) -> str:
    if not isinstance(value, str) or len(value) != 1:
        raise FilterArgumentError(f"{name}: delimiter must be a single character", token=None)
    return value


def to_csv(value: object, delimiter: object = ",", *, include_bom: object = False) -> str:
    rows: list[Any] = value if isinstance(value, list) else []
    if rows and not all(isinstance(r, (list, tuple)) for r in rows):
        rows = [rows]  # a single flat row
    buf = io.StringIO()
    if include_bom is True:
        buf.write("\ufeff")  # lets Excel read the file as UTF-8
    writer = csv_module.writer(
        buf, delimiter=_delimiter(delimiter, "csv"), lineterminator="\n", quoting=csv_module.QUOTE_MINIMAL
    )
    for row in rows:
        writer.writerow([_cell(c) for c in row])
    return buf.getvalue()


def parse_csv(value: object, *, headers: object = False, delimiter: object = ",") -> list[Any]:
    separator = _delimiter(delimiter, "parse_csv")
    if value is None or isinstance(value, Undefined):
        return []
    text = str(value).lstrip("\ufeff")
    rows = [row for row in csv_module.reader(io.StringIO(text), delimiter=separator) if row]
    if not headers:
        return rows
    if not rows:
        return []
    head = rows[0]
    return [{name: (row[i] if i < len(row) else None) for i, name in enumerate(head)} for row in rows[1:]]


def register(env: Environment) -> None:
    env.add_filter("csv", to_csv)
    env.add_filter("parse_csv", parse_csv)
