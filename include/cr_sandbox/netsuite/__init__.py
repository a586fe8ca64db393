"""Netsuite stand-in (sandbox only)."""
