"""JSON Merge Patch (RFC 7386) between a node's base and current configuration.

A node stores its base (immutable) and a patch; current = merge(base, patch).
Edits are merged into the patch and the patch is then re-derived from base, so a
key set back to its base value disappears from the patch (spec: Configuration).
RFC 7386 cannot express a JSON null *value*: null always means "remove the key".
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]


def apply_patch(target: Any, patch: Any) -> Any:
    """Return target with the merge patch applied (RFC 7386, section 2). Inputs are not mutated."""
    if not isinstance(patch, Mapping):
        return copy.deepcopy(patch)
    result: JsonDict = dict(target) if isinstance(target, Mapping) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = apply_patch(result.get(key), value)
    return result


def diff(base: Mapping[str, Any], current: Mapping[str, Any]) -> JsonDict:
    """The smallest merge patch that turns base into current."""
    patch: JsonDict = {}
    for key, value in current.items():
        if key not in base:
            patch[key] = copy.deepcopy(value)
        elif base[key] != value:
            old = base[key]
            if isinstance(old, Mapping) and isinstance(value, Mapping):
                patch[key] = diff(old, value)
            else:
                patch[key] = copy.deepcopy(value)
    for key in base:
        if key not in current:
            patch[key] = None
    return patch


def current_config(base: Mapping[str, Any], patch: Mapping[str, Any]) -> JsonDict:
    result = apply_patch(base, patch)
    assert isinstance(result, dict)
    return result


def merge_edit(
    base: Mapping[str, Any], patch: Mapping[str, Any], edit: Mapping[str, Any]
) -> JsonDict:
    """Merge a user's edit into a node's patch; keys equal to base drop out of the patch."""
    return diff(base, current_config(current_config(base, patch), edit))
