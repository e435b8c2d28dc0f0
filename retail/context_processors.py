from retail import roles
from retail.navigation import Menus


def tenant(request):
    staff = getattr(request, "staff", None)
    return {
        "current_brand": getattr(request, "brand", None),
        "current_staff": staff,
        "is_brand_admin": bool(staff and roles.can_manage_stores(staff)),
        "can_manage_staff": bool(staff and roles.can_manage_staff(staff)),
        "menus": Menus(staff),  # the registered menus, each built when a template first uses it
    }
