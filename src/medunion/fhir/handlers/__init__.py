"""Importing this package registers every resource type (see ..registry)."""

from . import audit, careteam, network, patients

__all__ = ["audit", "careteam", "network", "patients"]
