"""The published chain head: what the ledger looked like, kept where its database is not.

The webhook logs the head (ledger id, records appended, hash of the last record) at start and
then at most once a minute, and writes it to a *head file* when it has one (SQLite: beside the
ledger, ``ledger.db.head``). A ledger that was deleted, replaced or cut short then contradicts
its head: the webhook refuses to write to it, and ``truthgate intents verify`` reports it
(``--head-file``, or ``--expect-head HASH`` for a head noted elsewhere).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from webhooks.common.times import format_time
from webhooks.errors import BadRequestError


@dataclass(frozen=True)
class PublishedHead:
    ledger_id: str
    hash: str
    appended: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "ledgerId": self.ledger_id,
                "head": self.hash,
                "appended": self.appended,
                "time": format_time(datetime.now(UTC)),
            },
            sort_keys=True,
        )

    def contradicts(self, ledger_id: str | None, appended: int) -> str | None:
        """Why a ledger with this id and count cannot be the one published, or None."""
        if self.ledger_id and ledger_id != self.ledger_id:
            return (
                f"is not the ledger published here (id {ledger_id or 'none'}, published "
                f"{self.ledger_id} with {self.appended} records): it was deleted or replaced"
            )
        if appended < self.appended:
            return (
                f"has {appended} records appended but {self.appended} were published: records "
                "were removed"
            )
        return None


def read_head_file(path: str) -> PublishedHead | None:
    """The head last published to ``path``; None if there is no such file."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as e:
        raise BadRequestError(f"cannot read the head file {path}: {e.strerror}") from e
    try:
        doc = json.loads(text)
        return PublishedHead(str(doc["ledgerId"]), str(doc["head"]), int(doc["appended"]))
    except (ValueError, KeyError, TypeError) as e:
        raise BadRequestError(f"{path} is not a truthgate head file") from e


def write_head_file(path: str, head: PublishedHead) -> None:
    """Replace ``path`` atomically (a crash leaves the old head or the new one, never half)."""
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(head.to_json() + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
