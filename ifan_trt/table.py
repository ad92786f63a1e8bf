"""Plain-text tables for the reports the commands print (precision tools, engine builds)."""

from __future__ import annotations


def format_table(header: list[str], rows: list[list[str]], max_width: int = 48) -> str:
    """Left-aligned columns; cells longer than max_width are shortened in the middle."""
    def cut(cell: str) -> str:
        cell = str(cell)
        return cell if len(cell) <= max_width else cell[: max_width // 2 - 1] + ".." + cell[-(max_width // 2 - 1):]

    cells = [[cut(c) for c in header]] + [[cut(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
