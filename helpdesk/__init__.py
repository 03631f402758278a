"""Bayit+ Soporte: the helpdesk package."""
