"""Typed shapes of the documents that connect the parts: intents, Evidence, Verdict."""
