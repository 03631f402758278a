"""Same-site redirects: the one check every `next`/`url` parameter goes through."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

#: What browsers drop from a URL before reading it (WHATWG URL: tab and newlines anywhere,
#: C0 controls and spaces at the ends): `/\t/evil.com` is followed as `//evil.com`.
_STRIPPED = re.compile(r"[\t\n\r]")


def is_same_site(target: str | None) -> bool:
    """Whether `target` is a path on this site: starts with one `/`, never `//` or `/\\` (another
    host once the browser cleans it up), no scheme (`javascript:`, `https:`), no host."""
    if not target:
        return False
    cleaned = _STRIPPED.sub("", target)
    if cleaned != cleaned.strip() or any(ord(c) < 0x20 or ord(c) == 0x7F for c in cleaned):
        return False
    if not cleaned.startswith("/") or cleaned[1:2] in ("/", "\\"):
        return False
    parts = urlsplit(cleaned)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str) -> str:
    """`target` if it is a same-site path (`is_same_site`), else `default`."""
    return target if is_same_site(target) else default
