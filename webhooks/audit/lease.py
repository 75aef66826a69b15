"""One active auditor among its replicas, through a ``coordination.k8s.io/v1`` Lease.

The same protocol as client-go's leader election, kept small: the holder renews
``spec.renewTime`` every ``renew`` seconds; another replica takes the Lease over only when the
holder has not renewed for ``spec.leaseDurationSeconds``. Every write carries the Lease's
``resourceVersion``, so two replicas racing for an expired Lease cannot both win (the loser
gets 409 and stays standby). A replica that cannot reach the API, or loses a race, is simply
not the leader this round: it never crashes and tries again.

A leader that cannot renew stops auditing once its own view of the Lease has expired, before
anyone else may take it over (it renews at a third of the duration, so two failed renewals in a
row still leave a margin).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from webhooks.cluster.api import ClusterReader, ObjectWriter
from webhooks.cluster.resources import LEASE
from webhooks.common.times import format_micro_time, try_parse_time
from webhooks.errors import ClusterError, short
from webhooks.evidence.model import KubeObject

log = logging.getLogger(__name__)

DEFAULT_DURATION_SECONDS = 30


@dataclass
class LeaseElector:
    reader: ClusterReader
    writer: ObjectWriter
    namespace: str
    name: str
    identity: str
    duration_seconds: int = DEFAULT_DURATION_SECONDS
    _held_until: datetime | None = field(default=None, init=False)

    def is_leader(self, now: datetime) -> bool:
        """Whether this replica may act now (its last successful renewal has not expired)."""
        return self._held_until is not None and now < self._held_until

    def try_acquire(self, now: datetime) -> bool:
        """Acquire or renew the Lease; False (never an exception) when another replica holds it
        or the API cannot be reached."""
        try:
            lease = self.reader.get_object(LEASE, self.namespace, self.name)
            if lease is None:
                self.writer.create_object(LEASE, self.namespace, self._body(None, now, 0))
            else:
                spec: dict[str, Any] = lease.get("spec") or {}
                holder = spec.get("holderIdentity")
                renewed = try_parse_time(spec.get("renewTime")) or try_parse_time(
                    spec.get("acquireTime")
                )
                duration = int(spec.get("leaseDurationSeconds") or self.duration_seconds)
                expired = renewed is None or now >= renewed + timedelta(seconds=duration)
                if holder not in (self.identity, None, "") and not expired:
                    self._held_until = None
                    return False
                transitions = int(spec.get("leaseTransitions") or 0)
                if holder != self.identity:
                    transitions += 1
                self.writer.patch_object(
                    LEASE, self.namespace, self.name, self._body(lease, now, transitions)
                )
        except ClusterError as e:  # ConflictError included: another replica won the race
            log.info("lease %s/%s not held: %s", self.namespace, self.name, short(e, 200))
            if self._held_until is not None and now >= self._held_until:
                self._held_until = None
            return self.is_leader(now)
        if self._held_until is None:
            log.info("lease %s/%s acquired by %s", self.namespace, self.name, self.identity)
        self._held_until = now + timedelta(seconds=self.duration_seconds)
        return True

    def _body(self, lease: KubeObject | None, now: datetime, transitions: int) -> KubeObject:
        spec = dict((lease or {}).get("spec") or {})
        if spec.get("holderIdentity") != self.identity:
            spec["acquireTime"] = format_micro_time(now)
        spec.update(
            {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": self.duration_seconds,
                "renewTime": format_micro_time(now),
                "leaseTransitions": transitions,
            }
        )
        metadata = dict((lease or {}).get("metadata") or {"name": self.name})
        metadata["namespace"] = self.namespace
        return {
            "apiVersion": LEASE.api_version,
            "kind": LEASE.kind,
            "metadata": metadata,
            "spec": spec,
        }
