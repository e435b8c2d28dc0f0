"""Reading brand-owned rows from test code, inside their brand's scope."""

from __future__ import annotations


def refresh(obj):
    """Reload a brand-owned object inside its brand's scope (the way code outside a request must)."""
    from retail.tenancy import brand_scope

    with brand_scope(obj.brand_id):
        obj.refresh_from_db()
    return obj
