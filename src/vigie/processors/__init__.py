"""Processors (subcontractors), their contracts, assignments of people, and API keys."""
