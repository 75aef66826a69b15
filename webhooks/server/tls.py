"""TLS material for the webhook: the user's certificate, or a self-signed one made once.

The kube-apiserver only calls webhooks over HTTPS and checks the serving certificate against the
``caBundle`` of the ValidatingWebhookConfiguration. In production the chart (or cert-manager)
supplies the pair; for a first run on a laptop ``truthgate serve`` makes a self-signed pair,
writes it to a directory, says where, and reuses it on later starts while it stays valid for
more than 30 days, so the ``caBundle`` pasted once keeps working.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from webhooks.errors import BadRequestError

CERT_FILE = "tls.crt"
KEY_FILE = "tls.key"
VALIDITY = dt.timedelta(days=365)
RENEW_BEFORE = dt.timedelta(days=30)
DEFAULT_SANS = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    generated: bool  # True when this start wrote a new self-signed pair
    self_signed: bool  # the cert is its own CA: use it as the caBundle


def resolve(
    cert: Path | None,
    key: Path | None,
    tls_dir: Path,
    extra_sans: tuple[str, ...] = (),
    now: dt.datetime | None = None,
) -> TlsFiles:
    """The pair to serve with: the given files, a still-valid self-signed pair, or a new one."""
    if (cert is None) != (key is None):
        raise BadRequestError("--tls-cert and --tls-key go together: give both or neither")
    if cert is not None and key is not None:
        for path in (cert, key):
            if not path.is_file():
                raise BadRequestError(f"TLS file not found: {path}")
        return TlsFiles(cert=cert, key=key, generated=False, self_signed=False)
    now = now or dt.datetime.now(dt.UTC)
    sans = tuple(dict.fromkeys((*DEFAULT_SANS, *extra_sans)))
    cert_path, key_path = tls_dir / CERT_FILE, tls_dir / KEY_FILE
    if _reusable(cert_path, key_path, sans, now):
        return TlsFiles(cert=cert_path, key=key_path, generated=False, self_signed=True)
    write_self_signed(cert_path, key_path, sans, now)
    return TlsFiles(cert=cert_path, key=key_path, generated=True, self_signed=True)


def write_self_signed(
    cert_path: Path, key_path: Path, sans: tuple[str, ...], now: dt.datetime
) -> None:
    """A P-256 key and a self-signed cert usable as its own caBundle (CA:TRUE, serverAuth)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, sans[0])])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName([_san(s) for s in sans]), critical=False)
        # Its own CA so that clients (the API server, curl --cacert) can trust it directly.
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(key, hashes.SHA256())
    )
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    key_bytes = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # Create the key file 0600 from the first byte: never world-readable, even briefly.
    tmp_key = key_path.with_name(key_path.name + ".tmp")
    fd = os.open(tmp_key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(key_bytes)
    os.chmod(tmp_key, 0o600)  # an existing tmp file keeps its mode through O_CREAT
    tmp_cert = cert_path.with_name(cert_path.name + ".tmp")
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    # Key first, then cert: a half-written pair is never mistaken for a reusable one.
    os.replace(tmp_key, key_path)
    os.replace(tmp_cert, cert_path)


def _reusable(cert_path: Path, key_path: Path, sans: tuple[str, ...], now: dt.datetime) -> bool:
    if not (cert_path.is_file() and key_path.is_file()):
        return False
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (ValueError, TypeError, x509.ExtensionNotFound):
        return False  # unreadable or foreign: make a fresh pair rather than fail to start
    have = {str(n) for n in names.get_values_for_type(x509.DNSName)} | {
        str(ip) for ip in names.get_values_for_type(x509.IPAddress)
    }
    same_key = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ) == cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return same_key and set(sans) <= have and cert.not_valid_after_utc - now > RENEW_BEFORE


def _san(value: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)
