"""The durable, tamper-evident ledger of intents and verification records.

Use :func:`open_store`; it returns an :class:`IntentStore` (SQLite or PostgreSQL by URL).
"""

from webhooks.ledger.open import open_store
from webhooks.ledger.store import ChainReport, IntentStore

__all__ = ["ChainReport", "IntentStore", "open_store"]
