"""gunicorn's threaded worker, with each request read in full before a thread serves it.

gunicorn's ``gthread`` worker hands a connection to a pool thread as soon as it is accepted (or,
kept alive, as soon as a byte arrives), and the thread then blocks on the TLS handshake, the
headers and the body, for as long as the client takes. A few clients that connect and send
nothing, or send headers and then one byte every two seconds, held every thread and stopped
the webhook. Here the worker's own event loop (the thread that accepts) does that reading
without blocking: the TLS handshake, the request line and headers, and the body up to its
Content-Length (or the last chunk). Only a complete request reaches a pool thread, so a pool
thread only ever waits on our own work (policies, the ledger). A request not complete within
``read_timeout`` seconds of its first byte (of the accept, for a new connection) is dropped.

What the reader cannot judge (a malformed or oversized head, Content-Length together with
Transfer-Encoding, ``Expect: 100-continue``, a body over the limit) goes to a thread at once, for
gunicorn's parser or the app to refuse; there every socket call is bounded by ``read_timeout``
too (``BoundedSSLSocket``), so nothing blocks for long.

Errors gunicorn answers itself (a bad request line, 414, 431, Content-Length with
Transfer-Encoding) are JSON like the app's: ``{"error": "..."}``.
"""

from __future__ import annotations

import contextlib
import errno
import json
import selectors
import socket
import ssl
import time
from functools import partial
from typing import Any

from gunicorn import http, util
from gunicorn import sock as gsock
from gunicorn.workers.gthread import TConn, ThreadWorker

from webhooks.errors import short

MAX_BODY_BYTES = 3 * 1024 * 1024  # as the app: the API server never sends more
READ_CHUNK = 64 * 1024
# From the accept (or a kept-alive request's first byte) to the whole request read. The API
# server sends at once; slow clients cost a socket, never a thread, so this bounds only how
# long they are kept.
READ_TIMEOUT_S = 5.0
LINGER_S = 2.0  # after our FIN, how long a closing connection may wait for the client's


class BoundedSSLSocket(ssl.SSLSocket):
    """A TLS socket whose "blocking" mode waits at most ``io_timeout`` seconds per call.

    gunicorn switches a connection to blocking before a thread serves it; with this class a
    client that stops sending or reading costs that thread ``io_timeout`` at most per call.
    """

    io_timeout: float = READ_TIMEOUT_S

    def setblocking(self, flag: bool) -> None:
        if flag:
            self.settimeout(self.io_timeout)
        else:
            super().setblocking(False)


class _Reading:
    """One request being read by the event loop: TLS handshake first, then bytes."""

    def __init__(self, deadline: float, shaken: bool) -> None:
        self.deadline = deadline
        self.shaken = shaken
        self.buf = bytearray()
        self.events = selectors.EVENT_READ
        self.registered = False  # with the poller, waiting for more


def request_complete(buf: bytes | bytearray, max_head: int) -> bool:
    """Whether ``buf`` holds a whole HTTP/1.1 request, or something a thread must refuse.

    True also when reading on would not help: a head over ``max_head`` without its end,
    headers gunicorn refuses anyway, ``Expect: 100-continue`` (the client waits for us), a
    body declared larger than the app accepts.
    """
    head_end = buf.find(b"\r\n\r\n")
    if head_end < 0:
        return len(buf) > max_head
    length: int | None = None
    chunked = False
    for line in bytes(buf[:head_end]).split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip().lower()
        if name == b"content-length":
            if length is not None or not value.isdigit():
                return True  # duplicate or malformed: the parser says 400
            length = int(value)
        elif name == b"transfer-encoding":
            if value != b"chunked":
                return True  # anything else is refused by the parser (400 or 501)
            chunked = True
        elif name == b"expect":
            return True
    body = head_end + 4
    if chunked:
        return True if length is not None else _chunks_complete(buf, body)
    if length is None or length > MAX_BODY_BYTES:
        return True
    return len(buf) - body >= length


def _chunks_complete(buf: bytes | bytearray, pos: int) -> bool:
    total = 0
    while True:
        eol = buf.find(b"\r\n", pos)
        if eol < 0:
            return len(buf) - pos > 1024  # no chunk-size line is that long: let the parser say
        try:
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return True
        if size == 0:
            return buf.find(b"\r\n\r\n", eol) >= 0  # optional trailers, then an empty line
        total += size
        if total > MAX_BODY_BYTES:
            return True
        pos = eol + 2 + size + 2
        if pos > len(buf):
            return False


class BufferedThreadWorker(ThreadWorker):  # type: ignore[misc]  # gunicorn ships no hints
    """gthread, with requests read by the event loop before a pool thread sees them."""

    read_timeout: float = READ_TIMEOUT_S

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._reading: dict[TConn, _Reading] = {}
        self._lingering: dict[TConn, float] = {}  # closing: waiting for the client's FIN
        cfg = self.cfg
        self._max_head = (
            cfg.limit_request_line + cfg.limit_request_fields * (cfg.limit_request_field_size + 2)
        ) + 4

    # -- connections in -------------------------------------------------------------------

    def accept(self, listener: Any) -> None:
        try:
            client, addr = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        conn = TConn(self.cfg, client, addr, listener.getsockname())  # non-blocking
        try:
            if self.cfg.is_ssl:
                conn.sock = self._wrap(conn.sock)
        except (OSError, ValueError):
            self._drop(conn)
            return
        self._read(conn, shaken=not self.cfg.is_ssl)

    def on_client_socket_readable(self, conn: TConn, client: Any) -> None:
        """A kept-alive connection has its next request coming: read it here too."""
        self.poller.unregister(client)
        self.keepalived_conns.remove(conn)
        self._read(conn, shaken=True)

    def _wrap(self, raw: socket.socket) -> ssl.SSLSocket:
        context = gsock.ssl_context(self.cfg)  # per connection, as gunicorn does (new certs)
        context.sslsocket_class = BoundedSSLSocket
        sock: ssl.SSLSocket = context.wrap_socket(
            raw,
            server_side=True,
            do_handshake_on_connect=False,
            suppress_ragged_eofs=self.cfg.suppress_ragged_eofs,
        )
        sock.setblocking(False)
        return sock

    def _read(self, conn: TConn, *, shaken: bool) -> None:
        reading = _Reading(time.monotonic() + self.read_timeout, shaken)
        self._reading[conn] = reading
        # A kept-alive connection has its request waiting already: read it now, and wait on
        # the poller only for what has not arrived.
        self._step(conn, reading)

    # -- reading on the event loop --------------------------------------------------------

    def _on_ready(self, conn: TConn, _fileobj: Any) -> None:
        reading = self._reading.get(conn)
        if reading is not None:
            self._step(conn, reading)

    def _step(self, conn: TConn, reading: _Reading) -> None:
        try:
            complete = self._advance(conn, reading)
        except (OSError, ValueError, EOFError):  # ssl.SSLError is an OSError
            self._forget(conn, reading)
            self._drop(conn)
            return
        if not complete:
            if not reading.registered:
                self.poller.register(conn.sock, reading.events, partial(self._on_ready, conn))
                reading.registered = True
            return
        self._forget(conn, reading)
        if conn.parser is None:
            conn.parser = http.get_parser(self.cfg, conn.sock, conn.client)
        conn.parser.unreader.unread(bytes(reading.buf))
        conn.initialized = True  # TLS done and the parser made: gunicorn's init() skips both
        conn.data_ready = True
        self.enqueue_req(conn)

    def _forget(self, conn: TConn, reading: _Reading) -> None:
        self._reading.pop(conn, None)
        if reading.registered:
            reading.registered = False
            with contextlib.suppress(OSError, KeyError, ValueError):
                self.poller.unregister(conn.sock)

    def _advance(self, conn: TConn, reading: _Reading) -> bool:
        sock = conn.sock
        if not reading.shaken:
            try:
                sock.do_handshake()
            except ssl.SSLWantReadError:
                return self._want(conn, reading, selectors.EVENT_READ)
            except ssl.SSLWantWriteError:
                return self._want(conn, reading, selectors.EVENT_WRITE)
            reading.shaken = True
            self._want(conn, reading, selectors.EVENT_READ)
        while True:
            try:
                data = sock.recv(READ_CHUNK)
            except (ssl.SSLWantReadError, BlockingIOError):
                return False
            except ssl.SSLWantWriteError:  # renegotiation is off in TLS 1.3; be safe anyway
                return self._want(conn, reading, selectors.EVENT_WRITE)
            if not data:
                raise EOFError("client closed the connection mid-request")
            reading.buf += data
            if request_complete(reading.buf, self._max_head):
                return True

    def _want(self, conn: TConn, reading: _Reading, events: int) -> bool:
        if reading.events != events:
            reading.events = events
            if reading.registered:
                self.poller.modify(conn.sock, events, partial(self._on_ready, conn))
        return False

    def _drop(self, conn: TConn) -> None:
        self.nr_conns -= 1
        conn.close()

    # -- closing without blocking the event loop ----------------------------------------------

    def finish_request(self, conn: TConn, fs: Any) -> None:
        """As gthread's, except a connection to close lingers on the poller, not in a call.

        gthread closes "gracefully" right here on the event loop: it half-closes and then reads
        for up to 2 s until the client closes too. A client that keeps the socket open would
        stop every other connection of the worker for those 2 s, once per such connection.
        """
        try:
            closing = not fs.cancelled() and fs.exception() is None and fs.result() is False
        except Exception:
            closing = False
        if not closing:
            super().finish_request(conn, fs)
            return
        self.nr_conns -= 1
        try:
            conn.sock.setblocking(False)
            conn.sock.shutdown(socket.SHUT_WR)  # our FIN; the answer is already sent
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._drain, conn))
        except (OSError, ValueError, KeyError):
            util.close(conn.sock)
            return
        self._lingering[conn] = time.monotonic() + LINGER_S

    def _drain(self, conn: TConn, _fileobj: Any) -> None:
        try:
            data = conn.sock.recv(READ_CHUNK)
        except (BlockingIOError, ssl.SSLWantReadError):
            return
        except OSError:
            data = b""
        if not data:
            self._end_linger(conn)

    def _end_linger(self, conn: TConn) -> None:
        self._lingering.pop(conn, None)
        with contextlib.suppress(OSError, KeyError, ValueError):
            self.poller.unregister(conn.sock)
        util.close(conn.sock)

    def murder_pending(self) -> None:
        """Also drop requests not read in full within ``read_timeout`` (checked every second)."""
        super().murder_pending()
        now = time.monotonic()
        late = [(conn, r) for conn, r in self._reading.items() if r.deadline <= now]
        for conn, reading in late:
            self._forget(conn, reading)
            self._drop(conn)
        for conn in [c for c, deadline in self._lingering.items() if deadline <= now]:
            self._end_linger(conn)

    # -- errors gunicorn answers itself, as JSON -------------------------------------------

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        capture = _StatusCapture(client)
        super().handle_error(req, capture, addr, exc)
        if capture.status is None:
            return
        status, reason = capture.status
        detail = short(str(exc), 200) if status < 500 else ""
        error = f"{reason}: {detail}" if detail else ("internal error" if status >= 500 else reason)
        body = json.dumps({"error": error}).encode()
        head = (
            f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode("latin-1")
        try:
            util.write_nonblock(client, head + body)
        except Exception:
            self.log.debug("Failed to send error message.")


class _StatusCapture:
    """Stands in for the client socket while gunicorn writes its HTML error: keeps the status."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.status: tuple[int, str] | None = None

    def gettimeout(self) -> float:
        return 0.0

    def sendall(self, data: bytes) -> None:
        line = data.split(b"\r\n", 1)[0].decode("latin-1")
        _, code, reason = [*line.split(" ", 2), "", ""][:3]
        if code.isdigit():
            self.status = (int(code), reason)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)
