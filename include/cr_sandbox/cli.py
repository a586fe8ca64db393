"""Small controls for scripts: `python -m cr_sandbox.cli wait|seed|reset|stats|clock DATE|run-scripts`."""

from __future__ import annotations

import argparse
import json
import time

import requests

from cr_sandbox.config import SandboxConfig


def control(config: SandboxConfig, system: str, action: str, payload: dict | None = None, method: str = "POST") -> dict:
    base = config.netsuite_url if system == "netsuite" else config.salesforce_url
    resp = requests.request(method, f"{base}/__sandbox/{action}", json=payload, verify=str(config.ca_path), timeout=600)
    resp.raise_for_status()
    return resp.json() if resp.content else {}


def wait_ready(config: SandboxConfig, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            control(config, "netsuite", "health", method="GET")
            control(config, "salesforce", "health", method="GET")
            return
        except (requests.RequestException, OSError):
            if time.monotonic() > deadline:
                raise SystemExit(f"sandbox not reachable at {config.netsuite_url} / {config.salesforce_url}") from None
            time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("command", choices=["wait", "seed", "reset", "stats", "clock", "run-scripts"])
    parser.add_argument("value", nargs="?", help="for clock: YYYY-MM-DD")
    args = parser.parse_args()
    config = SandboxConfig()
    wait_ready(config)
    if args.command == "wait":
        return
    if args.command == "run-scripts":
        print(json.dumps(control(config, "netsuite", "run-scripts"), indent=2))
        return
    for system in ("netsuite", "salesforce"):
        if args.command == "stats":
            print(system, json.dumps(control(config, system, "stats", method="GET"), indent=2))
        elif args.command == "clock":
            print(system, control(config, system, "clock", {"today": args.value}))
        else:
            control(config, system, args.command, {})
            print(f"{system}: {args.command} done")


if __name__ == "__main__":
    main()
