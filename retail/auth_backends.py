"""Login by username or by phone number."""

from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import ValidationError

from retail.models import User
from retail.phones import normalize_phone


def find_user(login: str) -> User | None:
    """The user whose username or (normalised) phone is ``login``."""
    login = (login or "").strip()
    if not login:
        return None
    try:
        phone = normalize_phone(login)
    except ValidationError:
        phone = None
    if phone:
        user = User.objects.filter(phone=phone).first()
        if user:
            return user
    return User.objects.filter(username__iexact=login).first()


def axes_username(request, credentials) -> str:
    """The key failed logins are counted under: one account, however it is typed."""
    login = (credentials or {}).get("username", "") if credentials else ""
    if not login and request is not None:
        login = request.POST.get("username", "")
    login = (login or "").strip().lower()
    try:
        return normalize_phone(login)
    except ValidationError:
        return login


class PhoneOrUsernameBackend(ModelBackend):
    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None or password is None:
            return None
        user = find_user(username)
        if user is None:
            # Run the hasher anyway so timing does not reveal which logins exist.
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None
