"""Figures and reports (PNG plots now; the HTML report joins with the fusion system)."""
