"""Real servers and helpers shared by the test folders (PostgreSQL, Prometheus, …)."""
