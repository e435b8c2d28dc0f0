"""Logging a staff member in through the test client."""

from __future__ import annotations

from retail.middleware import SESSION_BRAND_KEY
from retail.models import Staff


def login_as(client, staff: Staff):
    """Log the staff member's user in and pick the staff member's brand."""
    client.force_login(staff.user, backend="retail.auth_backends.PhoneOrUsernameBackend")
    session = client.session
    session[SESSION_BRAND_KEY] = staff.brand_id
    session.save()
    return client
