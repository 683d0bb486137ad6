"""Answers questions about the Changning District city-management plan, citing the exact clause."""
