"""The per-connection request cap: which answers close their connection."""

from __future__ import annotations

from types import SimpleNamespace

from webhooks.server.gunicorn_app import close_every


def closes(hook_requests: int, numbers: range) -> list[int]:
    hook = close_every(hook_requests)
    closed = []
    for n in numbers:
        req = SimpleNamespace(req_number=n, must_close=False)
        hook(None, req)
        if req.must_close:
            closed.append(n)
    return closed


def test_every_nth_request_of_a_connection_closes_it() -> None:
    assert closes(100, range(1, 301)) == [100, 200, 300]


def test_zero_keeps_connections_open() -> None:
    assert closes(0, range(1, 301)) == []
