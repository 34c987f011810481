"""Public numbers people read aloud to support: a prefix, the Shanghai date, and random digits."""

import secrets

from kameng.core import clock


def public_number(prefix: str, digits: int = 12) -> str:
    """E.g. K20261124073912845531: unguessable (10^12 per day) and sortable by day; ≤32 alphanumerics."""
    day = clock.now().strftime("%Y%m%d")
    return f"{prefix}{day}{secrets.randbelow(10**digits):0{digits}d}"
