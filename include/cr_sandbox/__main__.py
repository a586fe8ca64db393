"""`python -m cr_sandbox` (or `make sandbox`): serve both stand-ins over HTTPS in the foreground.

With ``--seed-if-fresh`` (what `make sandbox` passes) a sandbox started on an empty state folder is seeded
with the same small data set as `make up`'s: NetSuite seeds itself when its database is new; Salesforce is
seeded through its ``/__sandbox/seed`` control once it serves (the catalog's Accounts, Products and price
book, and a few Opportunities). Tests start it without the flag and seed what they need.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
from collections.abc import Callable

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


async def serve(config: SandboxConfig, *, seed_if_fresh: bool = False) -> None:
    fresh = seed_if_fresh and not (config.state_dir / "salesforce.sqlite3").exists()
    netsuite_fresh = not (config.state_dir / "netsuite.sqlite3").exists()  # seeds itself (create_app)
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
    running = [asyncio.ensure_future(s.serve()) for s in servers]
    if fresh:
        while not all(s.started for s in servers) and not any(task.done() for task in running):
            await asyncio.sleep(0.1)
        if all(s.started for s in servers):
            print(await asyncio.to_thread(seed_salesforce, config, netsuite_fresh), flush=True)
    await asyncio.gather(*running)


def seed_salesforce(config: SandboxConfig, netsuite_fresh: bool) -> str:
    """Seed a fresh Salesforce stand-in (its control endpoint); say what the user now has."""
    from cr_sandbox.cli import control

    seeded = control(config, "salesforce", "seed", {})
    netsuite = "NetSuite (customers, items, contracts, renewal estimates) and " if netsuite_fresh else ""
    return (
        f"Fresh state: seeded {netsuite}Salesforce (Accounts, Products, the standard price book, "
        f"{seeded.get('opportunities', 0)} Opportunities). `.venv/bin/python -m cr_sandbox.cli stats` "
        "counts them; `make clean` starts afresh."
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seed-if-fresh",
        action="store_true",
        help="seed both stand-ins when the state folder is new (make sandbox, make up's data set)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    with asyncio.Runner(loop_factory=event_loop_factory()) as runner:
        runner.run(serve(SandboxConfig(), seed_if_fresh=args.seed_if_fresh))


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where installed (Airflow's ``uvicorn[standard]`` brings it), else asyncio's.

    Both stand-ins share one process and one loop. At SuiteCloud Plus rates (hundreds of requests a
    second over TLS) asyncio's pure-Python socket transports and TLS protocol were a large share of the
    stand-in's CPU (bench/ns_put_profile.py with py-spy); uvloop's are compiled. Same HTTP and TLS on
    the wire; only the CPU each request costs changes.
    """
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


if __name__ == "__main__":
    main()
