"""Importing this package registers every resource type (see ..registry)."""

from . import audit, careteam, consults, diagnostics, network, patients, referrals

__all__ = ["audit", "careteam", "consults", "diagnostics", "network", "patients", "referrals"]
