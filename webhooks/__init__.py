"""truthgate: a supervisory truth layer above Argo CD.

The import package is ``webhooks`` (the distribution and the command are ``truthgate``).
Floors, from the bottom: ``evidence`` (shapes) → ``policy``/``ledger``/``checks``/``baseline``
→ ``admission``/``verdict`` → ``server``/``cluster``/``postsync`` → ``cli``. Lower floors never
import higher ones; ``pyproject.toml`` holds the import-linter contracts that enforce it.
"""

__version__ = "0.1.0"
API_VERSION = "truthgate.dev/v1alpha1"
