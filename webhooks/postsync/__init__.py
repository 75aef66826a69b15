"""Post-sync verification: collect (I/O) -> judge (pure) -> publish (I/O)."""
