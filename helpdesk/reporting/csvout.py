"""CSV for Excel: UTF-8 with BOM, cells that a spreadsheet would run as formulas neutralised."""

from __future__ import annotations

import csv
import io

BOM = "\ufeff"
_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def safe_cell(value) -> str:
    """The cell as text; one starting with = + - @ tab or CR gets a leading apostrophe."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_TRIGGERS) else text


def to_csv(headers, rows) -> str:
    """A BOM, the header row and the rows, every cell through `safe_cell`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([safe_cell(h) for h in headers])
    for row in rows:
        writer.writerow([safe_cell(c) for c in row])
    return BOM + out.getvalue()
