"""Cross-layer checks: pure functions over one Evidence document, each returning findings."""
