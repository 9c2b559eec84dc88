"""Execution engine: the executor interface, the local executor and email sending."""
