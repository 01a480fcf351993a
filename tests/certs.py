"""Throw-away certificates for the TLS tests: a CA, a server certificate for localhost /
127.0.0.1 and client certificates, written as PEM files (the ``cryptography`` package)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import pathlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


@dataclass(frozen=True)
class Pair:
    cert: pathlib.Path
    key: pathlib.Path


@dataclass(frozen=True)
class Pki:
    ca: pathlib.Path
    server: Pair
    client: Pair  # CN=twitchwatch-gateway, signed by the CA
    stranger: Pair  # a client certificate from another CA
    other_ca: pathlib.Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _write(path: pathlib.Path, key: ec.EllipticCurvePrivateKey, cert: x509.Certificate
           ) -> Pair:
    kp = path.with_suffix(".key")
    cp = path.with_suffix(".crt")
    kp.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.TraditionalOpenSSL,
                                     serialization.NoEncryption()))
    cp.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    kp.chmod(0o644)  # the test servers may drop privileges before reading it
    return Pair(cp, kp)


def _ca(cn: str) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(_name(cn))
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                         False), critical=True)
            .sign(key, hashes.SHA256()))
    return key, cert


def _leaf(cn: str, ca_key: ec.EllipticCurvePrivateKey, ca: x509.Certificate, *,
          server: bool) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.UTC)
    b = (x509.CertificateBuilder().subject_name(_name(cn)).issuer_name(ca.subject)
         .public_key(key.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(now - dt.timedelta(hours=1))
         .not_valid_after(now + dt.timedelta(days=1))
         .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
         .add_extension(x509.ExtendedKeyUsage(
             [ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH]),
             critical=False))
    if server:
        b = b.add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False)
    return key, b.sign(ca_key, hashes.SHA256())


def make_pki(d: pathlib.Path) -> Pki:
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca = _ca("twitchwatch test CA")
    other_key, other = _ca("someone else's CA")
    (d / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (d / "other-ca.crt").write_bytes(other.public_bytes(serialization.Encoding.PEM))
    server = _write(d / "server", *_leaf("localhost", ca_key, ca, server=True))
    client = _write(d / "client", *_leaf("twitchwatch-gateway", ca_key, ca, server=False))
    stranger = _write(d / "stranger", *_leaf("stranger", other_key, other, server=False))
    for p in d.iterdir():
        p.chmod(0o644)
    d.chmod(0o755)
    return Pki(d / "ca.crt", server, client, stranger, d / "other-ca.crt")
