"""Ledger URLs: which backend a ``--ledger`` value names, and its password-free display form.

``/abs/path.db``, ``relative.db``, ``sqlite:///abs/path.db`` and ``sqlite:relative.db`` are SQLite
files; ``postgresql://…`` and ``postgres://…`` are PostgreSQL. The display form replaces any
password (in the userinfo or a ``password=`` query parameter) with ``***``; it is the only form
that may reach logs, errors and reprs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

from webhooks.errors import BadRequestError

Backend = Literal["sqlite", "postgresql"]

_PG_SCHEMES = ("postgresql://", "postgres://")
_MASK = "***"


@dataclass(frozen=True)
class LedgerURL:
    backend: Backend
    target: str = field(repr=False)  # file path, or the DSN as given (may hold a password)
    display: str  # safe to print
    secrets: tuple[str, ...] = field(default=(), repr=False)  # strings to scrub from messages

    def scrub(self, message: str) -> str:
        """``message`` with every secret of this URL masked (driver errors may echo them)."""
        for secret in self.secrets:
            message = message.replace(secret, _MASK)
        return message


def parse_ledger_url(url: str) -> LedgerURL:
    text = url.strip()
    if not text:
        raise BadRequestError("ledger URL is empty")
    if text.startswith(_PG_SCHEMES):
        return _postgres(text)
    if text.startswith("sqlite:"):
        rest = text[len("sqlite:") :]
        # sqlite:///abs/path → /abs/path; sqlite://host/… is meaningless for a file.
        if rest.startswith("//"):
            rest = rest[2:]
            if not rest.startswith("/"):
                raise BadRequestError(f"sqlite URL needs an absolute path after '///': {url!r}")
        path = unquote(rest)
        if not path:
            raise BadRequestError("sqlite URL has no path")
        return LedgerURL("sqlite", path, f"sqlite:{path}" if not path.startswith("/") else path)
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text):
        scheme = text.split(":", 1)[0]
        raise BadRequestError(
            f"unsupported ledger URL scheme {scheme!r}: use a file path, sqlite:… or postgresql://…"
        )
    return LedgerURL("sqlite", text, text)


def _postgres(url: str) -> LedgerURL:
    parts = urlsplit(url)
    secrets: list[str] = []
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, hostinfo = netloc.rsplit("@", 1)
        if ":" in userinfo:
            user, password = userinfo.split(":", 1)
            secrets += [password, unquote(password)]
            netloc = f"{user}:{_MASK}@{hostinfo}"
    query = parse_qsl(parts.query, keep_blank_values=True)
    shown_query = []
    for key, value in query:
        if key == "password":
            secrets.append(value)
        shown_query.append((key, _MASK if key == "password" else value))
    display = urlunsplit(
        (parts.scheme, netloc, parts.path, urlencode(shown_query, safe="*"), parts.fragment)
    )
    # Longest first so a password containing another secret is masked whole.
    kept = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))
    return LedgerURL("postgresql", url, display, kept)
