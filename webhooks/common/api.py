"""truthgate's own API group and version, written once.

The TruthCheck CRD, the Evidence and Verdict documents and the admission configuration file all
carry ``apiVersion: truthgate.dev/v1alpha1``; a new version changes here and nowhere else.
"""

from __future__ import annotations

API_GROUP = "truthgate.dev"
API_VERSION_NAME = "v1alpha1"
API_VERSION = f"{API_GROUP}/{API_VERSION_NAME}"
