"""Early audits on cluster changes: debounced per application, rate-limited per TruthCheck.

The informers report every change; ``changes`` says which matter and to which application.
Each application collects its changes into a *burst*: it begins with the first change and is
acted on ``debounce`` later (5 s), whatever else arrives meanwhile, so a rollout touching forty
pods is one trigger, not forty. The auditor then audits that application's waiting TruthChecks
early — each at most once per ``due.EARLY_FLOOR`` (a minute) after its last verification. A
pod that flaps for an hour therefore costs each of its TruthChecks at most sixty audits, and a
burst kept back by that floor waits for the next pass instead of being lost. At most
``max_apps`` applications wait at once (10 000); changes beyond are dropped with a warning,
the interval still holds for them.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from webhooks.audit.changes import TRIGGER_TYPES, Find, change_reason, owning_app
from webhooks.cluster.informer import ChangeHandler
from webhooks.cluster.resources import ResourceType
from webhooks.common.argocd import AppRef
from webhooks.evidence.model import KubeObject
from webhooks.postsync.collect import Clock

log = logging.getLogger(__name__)

DEBOUNCE = timedelta(seconds=5)
MAX_APPS = 10_000


@dataclass
class Burst:
    first: datetime  # the first change since the application was last audited for it
    last: datetime  # the newest change
    reason: str  # the newest change, in words

    def ready_at(self, debounce: timedelta) -> datetime:
        return self.first + debounce


@dataclass
class Triggers:
    clock: Clock
    debounce: timedelta = DEBOUNCE
    max_apps: int = MAX_APPS
    _bursts: dict[AppRef, Burst] = field(default_factory=dict, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def observer(self, find: Find) -> ChangeHandler:
        """The informers' change handler: note the changes that matter, by application."""

        def on_change(rtype: ResourceType, old: KubeObject | None, new: KubeObject | None) -> None:
            if rtype not in TRIGGER_TYPES:
                return
            reason = change_reason(rtype, old, new)
            obj = new or old
            if reason is None or obj is None:
                return
            app = owning_app(rtype, obj, find)
            if app is not None:
                self.note(app, reason)

        return on_change

    def note(self, app: AppRef, reason: str) -> None:
        now = self.clock.now()
        with self._lock:
            burst = self._bursts.get(app)
            if burst is not None:
                burst.last, burst.reason = now, reason
            elif len(self._bursts) < self.max_apps:
                self._bursts[app] = Burst(now, now, reason)
            else:
                log.warning("%d applications already wait for an early audit", self.max_apps)

    def ready(self, now: datetime) -> dict[AppRef, Burst]:
        """The bursts whose debounce has passed (copies; ``settle`` removes them)."""
        with self._lock:
            return {
                app: Burst(b.first, b.last, b.reason)
                for app, b in self._bursts.items()
                if b.ready_at(self.debounce) <= now
            }

    def newly_ready(self, since: datetime, now: datetime) -> bool:
        """A burst became ready after ``since`` (the last pass began) and by ``now``."""
        with self._lock:
            return any(since < b.ready_at(self.debounce) <= now for b in self._bursts.values())

    def settle(self, app: AppRef, audited_from: datetime) -> None:
        """The application's changes up to ``audited_from`` are judged (or need not be):
        forget them; a change after that begins a new burst."""
        with self._lock:
            burst = self._bursts.get(app)
            if burst is None:
                return
            if burst.last <= audited_from:
                del self._bursts[app]
            else:
                burst.first = burst.last

    def clear(self) -> None:
        with self._lock:
            self._bursts.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._bursts)
