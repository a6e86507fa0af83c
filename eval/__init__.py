"""Offline evaluation of language ID and entity extraction against the shared dev data."""
