"""Tiny stdlib-only stand-ins for farm tools (sim, render, comp, encode) used by the examples."""
