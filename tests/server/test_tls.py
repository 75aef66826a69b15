"""Self-signed TLS for a first run: made once, reused while valid, private key kept private."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509

from webhooks.errors import BadRequestError
from webhooks.server import tls

NOW = dt.datetime(2026, 11, 27, 10, 0, tzinfo=dt.UTC)


def _sans(cert_path: Path) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(n) for n in names.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in names.get_values_for_type(x509.IPAddress)
    }


def test_without_cert_a_self_signed_pair_is_written_with_a_private_key(tmp_path: Path) -> None:
    files = tls.resolve(None, None, tmp_path / "tls", ("webhook.truthgate.svc",), now=NOW)
    assert files.generated and files.self_signed
    assert _sans(files.cert) == {"localhost", "127.0.0.1", "webhook.truthgate.svc"}
    assert stat.S_IMODE(files.key.stat().st_mode) == 0o600
    assert sorted(p.name for p in (tmp_path / "tls").iterdir()) == ["tls.crt", "tls.key"]


def test_a_pair_valid_for_more_than_30_days_is_reused(tmp_path: Path) -> None:
    first = tls.resolve(None, None, tmp_path, now=NOW)
    again = tls.resolve(None, None, tmp_path, now=NOW + dt.timedelta(days=300))
    assert not again.generated
    assert again.cert.read_bytes() == first.cert.read_bytes()


def test_a_pair_expiring_within_30_days_is_replaced(tmp_path: Path) -> None:
    first = tls.resolve(None, None, tmp_path, now=NOW).cert.read_bytes()
    later = tls.resolve(None, None, tmp_path, now=NOW + dt.timedelta(days=340))
    assert later.generated
    assert later.cert.read_bytes() != first


def test_a_new_san_makes_a_new_pair(tmp_path: Path) -> None:
    tls.resolve(None, None, tmp_path, now=NOW)
    again = tls.resolve(None, None, tmp_path, ("10.0.0.7",), now=NOW)
    assert again.generated
    assert "10.0.0.7" in _sans(again.cert)


def test_a_corrupt_pair_is_replaced_rather_than_failing(tmp_path: Path) -> None:
    (tmp_path / "tls.crt").write_text("not a certificate")
    (tmp_path / "tls.key").write_text("not a key")
    files = tls.resolve(None, None, tmp_path, now=NOW)
    assert files.generated
    x509.load_pem_x509_certificate(files.cert.read_bytes())


def test_given_files_are_used_as_they_are(tmp_path: Path) -> None:
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("y")
    files = tls.resolve(cert, key, tmp_path / "unused")
    assert (files.cert, files.key, files.generated) == (cert, key, False)
    assert not (tmp_path / "unused").exists()


@pytest.mark.parametrize("which", ["cert", "key"])
def test_cert_without_key_or_key_without_cert_is_refused(tmp_path: Path, which: str) -> None:
    path = tmp_path / "f.pem"
    path.write_text("x")
    with pytest.raises(BadRequestError, match="go together"):
        tls.resolve(path if which == "cert" else None, path if which == "key" else None, tmp_path)


def test_a_missing_cert_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(BadRequestError, match=r"nope\.pem"):
        tls.resolve(tmp_path / "nope.pem", tmp_path / "nope.pem", tmp_path)
