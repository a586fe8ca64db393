"""Salesforce stand-in (sandbox only)."""
