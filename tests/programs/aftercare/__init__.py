"""Aftercare plans, items, goals and check-ins; risky check-ins alert (DOMAIN.md "Aftercare")."""
