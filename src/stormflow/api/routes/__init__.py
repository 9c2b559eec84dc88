"""One router per resource family; `stormflow.api.app` mounts them under /api/v1."""
