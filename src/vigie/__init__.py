"""Vigie: protect personal data shared with subcontractors, and respond when it leaks."""

__version__ = "0.1.0"
