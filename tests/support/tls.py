"""A throw-away certificate authority and a server certificate for 127.0.0.1 (or for the names asked for), for TLS tests."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class LocalTLS:
    server: ssl.SSLContext  # for the local server: its certificate, signed by the authority
    client: ssl.SSLContext  # for a client that trusts only that authority


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def local_tls(*, dns_names: tuple[str, ...] = ()) -> LocalTLS:
    now = datetime.datetime.now(datetime.UTC)
    authority_key = ec.generate_private_key(ec.SECP256R1())
    authority = (x509.CertificateBuilder().subject_name(_name("Deskpilot test authority"))
                 .issuer_name(_name("Deskpilot test authority")).public_key(authority_key.public_key())
                 .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
                 .not_valid_after(now + datetime.timedelta(hours=1))
                 .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                 .sign(authority_key, hashes.SHA256()))
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder().subject_name(_name("127.0.0.1")).issuer_name(authority.subject)
              .public_key(server_key.public_key()).serial_number(x509.random_serial_number())
              .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(hours=1))
              .add_extension(x509.SubjectAlternativeName([x509.DNSName(name) for name in dns_names] if dns_names
                                                         else [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                             critical=False)
              .sign(authority_key, hashes.SHA256()))

    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    with tempfile.TemporaryDirectory() as folder:
        chain, key = Path(folder) / "server.pem", Path(folder) / "server.key"
        chain.write_bytes(server.public_bytes(serialization.Encoding.PEM))
        key.write_bytes(server_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                 serialization.NoEncryption()))
        server_context.load_cert_chain(chain, key)
    client_context = ssl.create_default_context(
        cadata=authority.public_bytes(serialization.Encoding.PEM).decode())
    return LocalTLS(server=server_context, client=client_context)
