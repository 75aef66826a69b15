"""When the worker's event loop has read enough of a request to hand it to a thread."""

from __future__ import annotations

import pytest

from webhooks.server.worker import MAX_BODY_BYTES, request_complete

HEAD = b"POST /validate HTTP/1.1\r\nHost: x\r\n"
MAX_HEAD = 4096


def test_a_body_is_complete_at_its_content_length() -> None:
    request = HEAD + b"Content-Length: 10\r\n\r\n" + b"0123456789"
    assert not request_complete(request[:-1], MAX_HEAD)
    assert request_complete(request, MAX_HEAD)


def test_a_head_without_its_end_waits_until_it_is_too_long() -> None:
    assert not request_complete(HEAD, MAX_HEAD)
    assert request_complete(HEAD + b"X: " + b"a" * MAX_HEAD, MAX_HEAD)


def test_chunked_bodies_are_complete_after_the_last_chunk_and_trailers() -> None:
    start = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    assert not request_complete(start + b"5\r\nhel", MAX_HEAD)
    assert not request_complete(start + b"5\r\nhello\r\n", MAX_HEAD)
    assert not request_complete(start + b"5\r\nhello\r\n0\r\n", MAX_HEAD)
    assert request_complete(start + b"5\r\nhello\r\n0\r\n\r\n", MAX_HEAD)
    assert not request_complete(start + b"5;x=y\r\nhello\r\n0\r\nT: v\r\n", MAX_HEAD)
    assert request_complete(start + b"5;x=y\r\nhello\r\n0\r\nT: v\r\n\r\n", MAX_HEAD)


@pytest.mark.parametrize(
    "headers",
    [
        b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",  # the parser refuses it
        b"Content-Length: 5x\r\n",
        b"Content-Length: 5\r\nContent-Length: 6\r\n",
        b"Transfer-Encoding: gzip\r\n",
        b"Expect: 100-continue\r\nContent-Length: 5\r\n",  # the client waits for us
        b"Content-Length: %d\r\n" % (MAX_BODY_BYTES + 1),  # refused on the header alone
    ],
)
def test_what_only_a_thread_can_refuse_or_answer_goes_to_one_at_once(headers: bytes) -> None:
    assert request_complete(HEAD + headers + b"\r\n", MAX_HEAD)


def test_a_chunked_body_over_the_limit_goes_to_a_thread_to_be_refused() -> None:
    size = MAX_BODY_BYTES // 2 + 1
    chunk = b"%x\r\n" % size + b"a" * size + b"\r\n"
    request = HEAD + b"Transfer-Encoding: chunked\r\n\r\n" + chunk * 2 + b"5\r\n"
    assert request_complete(request, MAX_HEAD)
