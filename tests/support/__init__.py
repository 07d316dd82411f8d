"""Shared test helpers (importable from both test environments; no third-party imports here)."""
