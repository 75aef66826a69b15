"""Kubernetes access: the only place that imports the kubernetes client."""
