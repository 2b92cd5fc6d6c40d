"""`ratchet runs list` as a table: one line per run that fits the terminal (80 columns when piped).

Ids are shortened to their first characters and long cells end in an ellipsis; `--wide` prints
every column in full, and `--json` (elsewhere) stays the machine-readable form.
"""

from __future__ import annotations

from datetime import datetime

from rich.console import Console
from rich.table import Table

from starter.api import RunView

SHORT_ID_LENGTH = 8
COLUMN_GAP = 2
# Cells that may be cut to fit, and the share of the leftover width each gets.
FLEXIBLE_SHARES = {"task / action": 0.45, "error": 0.55}
# Wide enough that nothing is ever cut: --wide lines are as long as their content.
WIDE_CONSOLE_WIDTH = 100_000


def _when(value: datetime | None, wide: bool) -> str:
    if value is None:
        return ""
    return value.isoformat() if wide else value.strftime("%m-%d %H:%M:%S")


def _rows(runs: list[RunView], wide: bool) -> list[dict[str, str]]:
    rows = []
    for run in runs:
        error = run.error or ""
        row = {
            "id": run.id if wide else run.id[:SHORT_ID_LENGTH],
            "kind": run.kind.value,
            "state": run.state.value,
            **({"topic": run.topic} if wide else {}),
            "task / action": " / ".join(part for part in (run.task_name, run.action_type) if part),
            "try": str(run.attempts),
            "run at": _when(run.run_at, wide),
            # One line per run: the first line of a multi-line error.
            "error": error if wide else error.partition("\n")[0],
        }
        rows.append(row)
    return rows


def _widths(rows: list[dict[str, str]], columns: list[str], available: int) -> dict[str, int]:
    """Natural widths, with the flexible columns cut to share what the fixed ones leave."""
    natural = {name: max([len(name), *(len(row[name]) for row in rows)]) for name in columns}
    fixed = sum(width for name, width in natural.items() if name not in FLEXIBLE_SHARES)
    leftover = max(available - fixed - COLUMN_GAP * (len(columns) - 1), 2 * len(FLEXIBLE_SHARES))
    widths = dict(natural)
    if sum(natural[name] for name in FLEXIBLE_SHARES) > leftover:
        # A column that needs less than its share gives the rest to the other.
        task_share = max(int(leftover * FLEXIBLE_SHARES["task / action"]), leftover - natural["error"])
        widths["task / action"] = min(natural["task / action"], task_share)
        widths["error"] = leftover - widths["task / action"]
    return widths


def print_runs(runs: list[RunView], *, wide: bool) -> None:
    console = Console(highlight=False, width=WIDE_CONSOLE_WIDTH) if wide else Console(highlight=False)
    rows = _rows(runs, wide)
    columns = list(rows[0]) if rows else ["id", "kind", "state", "task / action", "try", "run at", "error"]
    widths = _widths(rows, columns, console.width)
    table = Table(box=None, padding=(0, COLUMN_GAP // 2), pad_edge=False, header_style="bold")
    for name in columns:
        table.add_column(
            name, width=widths[name], no_wrap=True, overflow="ellipsis", justify="right" if name == "try" else "left"
        )
    for row in rows:
        table.add_row(*(row[name] for name in columns))
    console.print(table)
