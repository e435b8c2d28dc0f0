"""Writes of partner apps: create (the secret is shown once), change, rotate the secret (the
previous one keeps working for a grace period), revoke. Every change is audited.

``actor`` is the ``retail.events.Actor`` of the request (or the acting brand admin's ``Staff``,
taken as that person without an address); the app's ``created_by`` is the actor's staff record.
Who may call these (brand admins) is checked by the pages and API that call them.
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext as _
from oauth2_provider.generators import generate_client_id, generate_client_secret
from oauth2_provider.models import get_access_token_model, get_application_model

from retail.events import Actor
from retail.models import Brand, Staff, User
from retail.partners import events
from retail.partners.models import PartnerApp
from retail.partners.scopes import clean_scopes
from retail.tenancy import assert_brand, brand_scope

MAX_IP_RULES = 50
MAX_RATE_PER_MINUTE = 100_000


def _actor(actor) -> Actor:
    if isinstance(actor, Staff):
        return Actor(user=actor.user)
    return actor or Actor.system()


def _acting_staff(brand: Brand, actor) -> Staff | None:
    if isinstance(actor, Staff):
        return actor if actor.kind == Staff.Kind.PERSON else None
    user = getattr(actor, "user", None)
    if user is None:
        return None
    return Staff.objects.for_brand(brand).filter(user=user).first()


def _clean_name(name) -> str:
    name = " ".join(str(name or "").split())
    if not name:
        raise ValidationError({"name": _("This field is required.")})
    if len(name) > 100:
        raise ValidationError({"name": _("At most 100 characters.")})
    return name


def _clean_scopes(scopes) -> list[str]:
    if isinstance(scopes, str):
        scopes = scopes.split()
    try:
        return clean_scopes(scopes)
    except ValueError as exc:
        raise ValidationError({"scopes": _("Unknown scopes: %(names)s") % {"names": exc}}) from exc


def _clean_ip_allowlist(rules: Iterable[str] | str | None) -> list[str]:
    if isinstance(rules, str):
        rules = rules.replace(",", " ").split()
    out: list[str] = []
    for rule in rules or ():
        rule = str(rule).strip()
        if not rule:
            continue
        try:
            network = ipaddress.ip_network(rule, strict=False)
        except ValueError as exc:
            raise ValidationError(
                {"ip_allowlist": _("Not an IP address or CIDR range: %(value)s") % {"value": rule[:50]}}
            ) from exc
        if str(network) not in out:
            out.append(str(network))
    if len(out) > MAX_IP_RULES:
        raise ValidationError({"ip_allowlist": _("At most %(n)d addresses or ranges.") % {"n": MAX_IP_RULES}})
    return out


def _clean_rate(rate) -> int:
    if rate is None:
        return int(settings.PARTNER_DEFAULT_RATE_PER_MINUTE)
    try:
        rate = int(rate)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"rate_limit_per_minute": _("Enter a whole number.")}) from exc
    if not 1 <= rate <= MAX_RATE_PER_MINUTE:
        raise ValidationError(
            {
                "rate_limit_per_minute": _("Between 1 and %(max)d requests a minute.")
                % {"max": MAX_RATE_PER_MINUTE}
            }
        )
    return rate


def _staff_name(name: str) -> str:
    return f"API · {name}"[:64]


def app_create(
    *,
    brand: Brand,
    actor,
    name: str,
    scopes: Iterable[str],
    ip_allowlist: Iterable[str] = (),
    rate_limit_per_minute: int | None = None,
    test_mode: bool = False,
) -> tuple[PartnerApp, str]:
    """A new partner app with its OAuth2 client and service staff; returns (app, client secret).
    The secret is stored hashed: this is the only time it can be shown."""
    assert_brand(brand)
    name = _clean_name(name)
    scopes = _clean_scopes(scopes)
    ip_allowlist = _clean_ip_allowlist(ip_allowlist)
    rate = _clean_rate(rate_limit_per_minute)
    Application = get_application_model()
    client_id = generate_client_id()
    secret = generate_client_secret()
    audit_actor = _actor(actor)
    with brand_scope(brand):
        user = User(username=f"app-{client_id}"[:150], display_name=_staff_name(name), is_active=False)
        user.set_unusable_password()
        user.save()
        staff = Staff.unscoped.create(
            brand=brand,
            user=user,
            name=_staff_name(name),
            role=Staff.Role.BRAND_ADMIN,
            status=Staff.Status.ACTIVE,
            kind=Staff.Kind.APP,
        )
        application = Application.objects.create(
            name=f"{brand.slug}: {name}"[:255],
            client_id=client_id,
            client_secret=secret,
            hash_client_secret=True,
            client_type=Application.CLIENT_CONFIDENTIAL,
            authorization_grant_type=Application.GRANT_CLIENT_CREDENTIALS,
            user=None,
        )
        app = PartnerApp.unscoped.create(
            brand=brand,
            application=application,
            name=name,
            scopes=scopes,
            ip_allowlist=ip_allowlist,
            rate_limit_per_minute=rate,
            test_mode=bool(test_mode),
            service_staff=staff,
            created_by=_acting_staff(brand, actor),
        )
        events.app_created(brand=brand, actor=audit_actor, app=app)
    return app, secret


def _locked(brand: Brand, app: PartnerApp) -> PartnerApp:
    return (
        PartnerApp.objects.for_brand(brand)
        .select_for_update()
        .select_related("application", "service_staff", "service_staff__user")
        .get(pk=app.pk)
    )


def _brand_of(app: PartnerApp) -> Brand:
    return Brand.objects.get(pk=app.brand_id)


def app_update(
    *,
    app: PartnerApp,
    actor,
    name: str | None = None,
    scopes: Iterable[str] | None = None,
    ip_allowlist: Iterable[str] | None = None,
    rate_limit_per_minute: int | None = None,
) -> PartnerApp:
    """Change an app's name, scopes, IP allowlist or rate limit (None: left as is). Fewer scopes
    take effect at once, also for tokens already issued."""
    brand = _brand_of(app)
    new: dict = {}
    if name is not None:
        new["name"] = _clean_name(name)
    if scopes is not None:
        new["scopes"] = _clean_scopes(scopes)
    if ip_allowlist is not None:
        new["ip_allowlist"] = _clean_ip_allowlist(ip_allowlist)
    if rate_limit_per_minute is not None:
        new["rate_limit_per_minute"] = _clean_rate(rate_limit_per_minute)
    with brand_scope(brand):
        app = _locked(brand, app)
        if not app.is_active:
            raise ValidationError(_("This app has been revoked."), code="app_revoked")
        changes = {k: [getattr(app, k), v] for k, v in new.items() if getattr(app, k) != v}
        if changes:
            for key, (_old, value) in changes.items():
                setattr(app, key, value)
            app.save(update_fields=list(changes))
            if "name" in changes:
                staff, user = app.service_staff, app.service_staff.user
                staff.name = user.display_name = _staff_name(app.name)
                staff.save(update_fields=["name"])
                user.save(update_fields=["display_name"])
                app.application.name = f"{brand.slug}: {app.name}"[:255]
                app.application.save(update_fields=["name"])
            events.app_updated(brand=brand, actor=_actor(actor), app=app, changes=changes)
    return app


def app_rotate_secret(*, app: PartnerApp, actor, grace_hours: int | None = None) -> str:
    """A new client secret (returned, shown once). The previous secret keeps working for
    ``grace_hours`` (settings.PARTNER_SECRET_GRACE_HOURS by default); with 0 it stops at once
    and the tokens already issued are withdrawn too. A secret older than the previous one
    stops working now."""
    brand = _brand_of(app)
    if grace_hours is None:
        grace_hours = int(settings.PARTNER_SECRET_GRACE_HOURS)
    try:
        grace_hours = int(grace_hours)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"grace_hours": _("Enter a whole number.")}) from exc
    if not 0 <= grace_hours <= 24 * 30:
        raise ValidationError({"grace_hours": _("Between 0 and 720 hours.")})
    secret = generate_client_secret()
    with brand_scope(brand):
        app = _locked(brand, app)
        if not app.is_active:
            raise ValidationError(_("This app has been revoked."), code="app_revoked")
        application = app.application
        if grace_hours:
            app.previous_secret_hash = application.client_secret
            app.previous_secret_expires_at = timezone.now() + datetime.timedelta(hours=grace_hours)
        else:
            app.previous_secret_hash = ""
            app.previous_secret_expires_at = None
            get_access_token_model().objects.filter(application=application).delete()
        application.client_secret = secret
        application.save(update_fields=["client_secret", "updated"])
        app.save(update_fields=["previous_secret_hash", "previous_secret_expires_at"])
        events.app_secret_rotated(brand=brand, actor=_actor(actor), app=app, grace_hours=grace_hours)
    return secret


def app_revoke(*, app: PartnerApp, actor) -> PartnerApp:
    """Revoke an app for good: its tokens are deleted, no new ones are issued, its service staff
    has left (its webhook endpoints stop receiving events). Revoking twice changes nothing."""
    brand = _brand_of(app)
    with brand_scope(brand):
        app = _locked(brand, app)
        if not app.is_active:
            return app
        now = timezone.now()
        app.status = PartnerApp.Status.REVOKED
        app.revoked_at = now
        app.previous_secret_hash = ""
        app.previous_secret_expires_at = None
        app.save(update_fields=["status", "revoked_at", "previous_secret_hash", "previous_secret_expires_at"])
        staff = app.service_staff
        staff.status = Staff.Status.LEFT
        staff.left_on = timezone.localdate()
        staff.save(update_fields=["status", "left_on"])
        get_access_token_model().objects.filter(application_id=app.application_id).delete()
        events.app_revoked(brand=brand, actor=_actor(actor), app=app)
    return app


def calls_purge(*, brand: Brand | int, older_than_days: int | None = None) -> int:
    """Delete the brand's partner call log entries older than the retention; returns how many."""
    from retail.partners.models import PartnerCall

    days = int(settings.PARTNER_CALL_RETENTION_DAYS if older_than_days is None else older_than_days)
    cutoff = timezone.now() - datetime.timedelta(days=days)
    with brand_scope(brand):
        deleted, _by_model = PartnerCall.objects.filter(at__lt=cutoff).delete()
    return deleted
