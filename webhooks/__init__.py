"""truthgate: a supervisory truth layer above Argo CD.

The import package is ``webhooks`` (the distribution and the command are ``truthgate``).
Floors, from the bottom: ``common`` (one home per shared concept) → ``evidence`` (shapes) →
``policy``/``ledger``/``checks``/``baseline``
→ ``admission``/``verdict`` → ``server``/``cluster``/``postsync`` → ``cli``. Lower floors never
import higher ones; ``pyproject.toml`` holds the import-linter contracts that enforce it.
"""

from importlib.metadata import PackageNotFoundError, version

try:  # pyproject.toml is the one place the version is written (tools/set-version)
    __version__ = version("truthgate")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
