"""A cached view of namespace labels, for ``spec.match.namespaceSelector``.

Gatekeeper reads a namespace's labels from its informer cache. truthgate keeps a small TTL cache
filled two ways: every Namespace CREATE/UPDATE review the webhook sees updates it (the labels the
API server is about to store), and a miss asks ``fetch`` (the server wires the Kubernetes API,
one bounded GET of the namespace). A fetch that fails is a PolicyError: the admission failure
mode decides, as for any policy that cannot be evaluated.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping

from webhooks.errors import PolicyError, TruthgateError, short

# name -> labels, or None when the namespace does not exist. May raise TruthgateError.
NamespaceFetch = Callable[[str], Mapping[str, str] | None]


class NamespaceLabels:
    def __init__(
        self,
        fetch: NamespaceFetch | None,
        *,
        ttl: float = 30.0,
        max_entries: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self._ttl = ttl
        self._max = max_entries
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, Mapping[str, str]]] = OrderedDict()

    def remember(self, name: str, labels: Mapping[str, str]) -> None:
        with self._lock:
            self._entries[name] = (self._clock() + self._ttl, dict(labels))
            self._entries.move_to_end(name)
            while len(self._entries) > self._max:
                self._entries.popitem(last=False)

    def get(self, name: str) -> Mapping[str, str]:
        with self._lock:
            found = self._entries.get(name)
            if found is not None and found[0] > self._clock():
                return found[1]
        if self._fetch is None:
            raise PolicyError(
                f"namespaceSelector needs the labels of namespace {name}: "
                "no cluster access configured"
            )
        try:
            labels = self._fetch(name)
        except TruthgateError as e:
            raise PolicyError(f"labels of namespace {name}: {short(e, 200)}") from e
        if labels is None:
            raise PolicyError(f"namespaceSelector: namespace {name} does not exist")
        self.remember(name, labels)
        return labels
