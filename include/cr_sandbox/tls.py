"""The sandbox's certificates: a local CA (written to `<state>/ca.pem`) and a server certificate.

The files are kept across restarts so that clients configured with the CA keep trusting the sandbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import trustme


@dataclass(frozen=True)
class SandboxCertificates:
    ca_path: Path
    cert_path: Path
    key_path: Path


def ensure_certificates(state_dir: Path, hostnames: tuple[str, ...] = ("127.0.0.1", "localhost")) -> SandboxCertificates:
    """Create the CA and server certificate once; reuse them afterwards."""
    state_dir.mkdir(parents=True, exist_ok=True)
    certs = SandboxCertificates(
        ca_path=state_dir / "ca.pem",
        cert_path=state_dir / "server.pem",
        key_path=state_dir / "server-key.pem",
    )
    if certs.ca_path.exists() and certs.cert_path.exists() and certs.key_path.exists():
        return certs
    ca = trustme.CA(organization_name="Contract Renewal Sync sandbox CA")
    server = ca.issue_cert(*hostnames)
    ca.cert_pem.write_to_path(str(certs.ca_path))
    server.cert_chain_pems[0].write_to_path(str(certs.cert_path))
    for extra in server.cert_chain_pems[1:]:
        extra.write_to_path(str(certs.cert_path), append=True)
    server.private_key_pem.write_to_path(str(certs.key_path))
    certs.key_path.chmod(0o600)
    return certs
