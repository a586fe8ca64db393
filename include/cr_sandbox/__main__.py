"""`python -m cr_sandbox` (or `make sandbox`): serve both stand-ins over HTTPS in the foreground."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from cr_sandbox.config import SandboxConfig
from cr_sandbox.tls import ensure_certificates

log = logging.getLogger("cr_sandbox")


def build_servers(config: SandboxConfig) -> list[uvicorn.Server]:
    from cr_sandbox.netsuite.app import create_app as create_netsuite_app
    from cr_sandbox.salesforce.app import create_app as create_salesforce_app

    certs = ensure_certificates(config.state_dir)
    servers = []
    for app, port in (
        (create_netsuite_app(config), config.netsuite_port),
        (create_salesforce_app(config), config.salesforce_port),
    ):
        uv_config = uvicorn.Config(
            app,
            host=config.host,
            port=port,
            ssl_certfile=str(certs.cert_path),
            ssl_keyfile=str(certs.key_path),
            log_level="warning",
            access_log=False,
            timeout_keep_alive=30,
            # Idle TLS keep-alive connections otherwise hold shutdown until the SSL close times out.
            timeout_graceful_shutdown=2,
            lifespan="off",
        )
        servers.append(uvicorn.Server(uv_config))
    return servers


async def serve(config: SandboxConfig) -> None:
    servers = build_servers(config)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for s in servers])
    print(
        f"NetSuite stand-in   {config.netsuite_url}  (account {config.netsuite.account_id})\n"
        f"Salesforce stand-in {config.salesforce_url}\n"
        f"CA certificate      {config.ca_path}\n"
        f"State               {config.state_dir}\n"
        "Sandbox-only credentials: see README 'The sandbox'. Ctrl-C stops.",
        flush=True,
    )
    await asyncio.gather(*(s.serve() for s in servers))


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    asyncio.run(serve(SandboxConfig()))


if __name__ == "__main__":
    main()
