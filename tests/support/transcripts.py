"""Console transcripts in the docs, read and checked as a user copying them would.

A transcript is a fenced block of ``$ command`` lines, each followed by the output the page
shows for it. ``…`` in shown output stands for text that differs between runs (paths, times,
ids; hex digits right before it are an abbreviated hash). JSON is compared as JSON on one
line, since a page may quote indented output compactly.
"""

from __future__ import annotations

import contextlib
import json
import re
import shlex


def section(page: str, title: str) -> str:
    """The text under the heading ``title`` (any level), up to the next heading of any level
    (a ``#`` line inside a fenced block is not a heading)."""
    lines: list[str] | None = None
    fenced = False
    for line in page.splitlines():
        heading = not fenced and re.match(r"#+ ", line) is not None
        fenced ^= line.startswith("```")
        if heading and lines is not None:
            break
        if lines is not None:
            lines.append(line)
        elif heading and line.split(" ", 1)[1] == title:
            lines = []
    assert lines is not None, f"no section {title!r}"
    return "\n".join(lines) + "\n"


def fenced(text: str) -> list[tuple[str, str]]:
    """(language, content) of every fenced block, in order."""
    out: list[tuple[str, str]] = []
    lang: str | None = None
    lines: list[str] = []
    for line in text.splitlines():
        if lang is None and line.startswith("```"):
            lang, lines = line[3:].strip(), []
        elif lang is not None and line.startswith("```"):
            out.append((lang, "\n".join(lines) + "\n"))
            lang = None
        elif lang is not None:
            lines.append(line)
    return out


def blocks(text: str) -> list[str]:
    """The transcripts: fenced blocks (console or plain) that start with a ``$`` line."""
    return [b for lang, b in fenced(text) if lang in {"", "console"} and b.startswith("$ ")]


def steps(block: str) -> list[tuple[str, str]]:
    """(command, output shown) pairs of a block; continued lines joined (after a backslash,
    or inside an open quote)."""
    out: list[tuple[str, list[str]]] = []
    continued = False
    for line in block.splitlines():
        if continued:
            out[-1] = (out[-1][0] + "\n" + line, out[-1][1])
        elif line.startswith("$ "):
            out.append((line[2:], []))
        else:
            out[-1][1].append(line)
        continued = line.endswith("\\") or not _complete(out[-1][0])
    return [(command, "\n".join(shown)) for command, shown in out]


def reads_as(shown: str, actual: str) -> bool:
    """``actual`` is what ``shown`` prints, ``…`` standing for any text."""
    for form in _one_line(shown):
        parts = re.split(r"(?:[0-9a-f]{4,})?…", form)
        pattern = ".*?".join(re.escape(part) for part in parts)
        if any(re.fullmatch(pattern, text, re.S) for text in _one_line(actual)):
            return True
    return False


def _one_line(text: str) -> list[str]:
    """The text on one line: as written (whitespace runs made one space) and, for JSON, as
    JSON written compactly."""
    forms = [" ".join(text.split())]
    with contextlib.suppress(json.JSONDecodeError):
        forms.append(json.dumps(json.loads(text), ensure_ascii=False))
    shown = " ".join(text.split())
    if shown.startswith("{ ") and shown.endswith(" }"):  # an indented object, elided inside
        forms.append("{" + shown[2:-2] + "}")
    return forms


def _complete(command: str) -> bool:
    try:
        shlex.split(command)
    except ValueError:  # "No closing quotation"
        return False
    return True
