"""The HTTP API (docs/api.md): `create_app` in `stormflow.api.app`.

This package's `__init__` imports nothing, so `stormflow.api.selection` can be used
without loading FastAPI.
"""
