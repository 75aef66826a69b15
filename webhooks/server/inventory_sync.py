"""Keeps Gatekeeper's ``data.inventory`` fresh in each server process.

One daemon thread per worker process lists the kinds the policy directory's Gatekeeper
``Config`` names, every ``interval`` seconds, and swaps the snapshot in; engines pick it up on
their next review. A listing that fails is logged and leaves those kinds out until the next
round. Nothing is listed while no Config asks for kinds.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from webhooks.policy.gatekeeper.inventory import InventoryCache, Lister, refresh

log = logging.getLogger(__name__)

_started: set[int] = set()
_lock = threading.Lock()


def start_inventory_sync(
    cache: InventoryCache,
    lister: Lister,
    *,
    interval: float = 60.0,
    wait: Callable[[float], bool] | None = None,
) -> bool:
    """Start the refresher of this process once (later calls, e.g. per thread, do nothing)."""
    with _lock:
        if os.getpid() in _started:
            return False
        _started.add(os.getpid())
    stop = threading.Event()
    sleep = wait or stop.wait

    def loop() -> None:
        while True:
            if cache.kinds():
                try:
                    for error in refresh(cache, lister):
                        log.warning("data.inventory: %s", error)
                except Exception:  # the thread must outlive any one failure
                    log.exception("data.inventory refresh failed")
            if sleep(interval):
                return

    threading.Thread(target=loop, name="gatekeeper-inventory", daemon=True).start()
    return True
