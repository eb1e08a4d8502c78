"""Where a cold file goes under the cold root: a readable layout, safe whatever a scope holds.

<table>/scope=<percent-encoded scope>/closed_month=<yyyy-mm>/part-<nnnnn>.parquet
"""

from __future__ import annotations

import hashlib
from urllib.parse import quote

# Longest encoded scope kept verbatim in a path segment (file systems cap a segment at 255 bytes).
MAX_SCOPE_SEGMENT = 120


def encode_scope(scope: str) -> str:
    """A path segment for a scope: percent-encoding of its UTF-8 bytes, '%' and '/' included,
    so `..`, slashes, wildcards or control characters can never act as path syntax. Very long
    scopes keep a readable prefix and a hash suffix; the manifest holds the exact scope."""
    # Letters, digits and `_.-~` stay as they are; everything else becomes %XX. The segment
    # always starts with `scope=`, so even a scope of `..` is not a path step.
    encoded = quote(scope, safe="")
    if len(encoded) > MAX_SCOPE_SEGMENT:
        digest = hashlib.sha256(scope.encode("utf-8")).hexdigest()[:16]
        cut = encoded[: MAX_SCOPE_SEGMENT - 17]
        escape = cut.rfind("%")
        if escape != -1 and escape > len(cut) - 3:  # never split a %XX sequence
            cut = cut[:escape]
        encoded = f"{cut}~{digest}"
    return encoded


def relative_path(table: str, scope: str, closed_month: str, part: int) -> str:
    return (
        f"{table}/scope={encode_scope(scope)}/closed_month={closed_month}/part-{part:05d}.parquet"
    )
