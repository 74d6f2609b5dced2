"""Values as the JSON documents on both sides hold them (the artifact's files, the reports).

numpy scalars become their Python values, tuples become lists, mapping keys become text, and
NaN and the infinities (which JSON cannot hold) become null. numpy scalars are recognised by
shape, not type, so that this stays free of numpy.
"""

from __future__ import annotations

import math
from typing import Any


def plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [plain(item) for item in value]
    # A numpy scalar: no dimensions, and an item() that gives the Python value.
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
