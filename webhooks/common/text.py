"""Clipping text that comes from elsewhere (upstream errors, events, policy messages).

One function, so every bounded message is cut the same way: at most ``limit`` characters, an
ellipsis saying it was cut. ``one_line`` also turns control characters into spaces and folds
white space (events and conditions quoted in findings, admission warnings); ``ascii_mark`` ends
with ``...`` for text that travels in an HTTP header (admission warnings).
"""

from __future__ import annotations


def clip(
    text: object, limit: int = 256, *, one_line: bool = False, ascii_mark: bool = False
) -> str:
    """``text`` cut to at most ``limit`` characters, the cut marked with an ellipsis."""
    s = str(text)
    if one_line:
        s = " ".join("".join(ch if ch.isprintable() else " " for ch in s).split())
    if len(s) <= limit:
        return s
    mark = "..." if ascii_mark else "…"
    return s[: max(limit - len(mark), 0)].rstrip() + mark
