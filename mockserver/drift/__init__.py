"""Drift detection: documents, live APIs and recorded traffic against the contracts."""
