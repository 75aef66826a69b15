"""The ledger key: a seal over the chain head and the retention anchor that the database cannot make.

The hash chain alone is tamper-*evident*: whoever can write the database can recompute every
hash. With a key (a file mounted from a Kubernetes Secret, never stored in the database) each
write also stores a *seal*, ``HMAC-SHA256(key, ledger id, head hash, records appended, anchor
hash, records pruned)``. The head hash commits to every retained record through the chain, so

* editing or re-chaining any record changes the head, and the old seal no longer matches;
* a fake retention anchor (deleting the oldest records) changes the anchor, likewise;
* a tail cut with the head rewound needs the seal of that earlier head, which only a copy taken
  at that time holds — the published head (``--expect-head``, the head file) catches that.

Pure: no I/O except reading the key file.
"""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from webhooks.errors import BadRequestError

MIN_KEY_BYTES = 32
_DOMAIN = b"truthgate-ledger-seal-v1"


def load_key(path: str | Path) -> bytes:
    """The key file's bytes (surrounding whitespace removed): at least 32 of them."""
    try:
        key = Path(path).read_bytes().strip()
    except OSError as e:
        raise BadRequestError(f"cannot read the ledger key file {path}: {e.strerror}") from e
    if len(key) < MIN_KEY_BYTES:
        raise BadRequestError(
            f"ledger key file {path} holds {len(key)} bytes; use at least {MIN_KEY_BYTES} random "
            "bytes (e.g. `openssl rand -hex 32`)"
        )
    return key


def seal(
    key: bytes, *, ledger_id: str, head_hash: str, appended: int, anchor_hash: str, pruned: int
) -> str:
    message = b"\n".join(
        part.encode("utf-8")
        for part in (ledger_id, head_hash, str(appended), anchor_hash, str(pruned))
    )
    return hmac.new(key, _DOMAIN + b"\n" + message, hashlib.sha256).hexdigest()


def key_id(key: bytes) -> str:
    """A short public fingerprint of the key (tells which key sealed a ledger; reveals nothing)."""
    return hmac.new(key, _DOMAIN + b"\nkey-id", hashlib.sha256).hexdigest()[:16]
