"""Behaviour baselines: the pure statistical judge and the Prometheus collector."""
