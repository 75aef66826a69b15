"""The durable, tamper-evident ledger of intents and verification records."""
