"""Placeholder until the stand-in is built: serves only the health check."""

from __future__ import annotations

from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

from cr_sandbox.config import SandboxConfig


def create_app(config: SandboxConfig) -> Starlette:
    async def health(request):
        return JSONResponse({"status": "ok"})

    return Starlette(routes=[Route("/__sandbox/health", health)])
