"""Plugins: packages that add node kinds, validation rules, external-job providers,
notification kinds and DCC integrations through the `stormflow.plugins` entry points.

`stormflow.plugins.api` holds what a plugin declares; `loader` loads and isolates them.
See docs/plugins.md.
"""

from __future__ import annotations

from stormflow.plugins.api import (
    API_VERSION,
    SUPPORTED_API_VERSIONS,
    DccIntegration,
    ExternalStatus,
    JobProvider,
    Plugin,
    ProviderContext,
)

__all__ = [
    "API_VERSION",
    "SUPPORTED_API_VERSIONS",
    "DccIntegration",
    "ExternalStatus",
    "JobProvider",
    "Plugin",
    "ProviderContext",
]
