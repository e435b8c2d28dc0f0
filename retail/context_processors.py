from retail import roles


def tenant(request):
    staff = getattr(request, "staff", None)
    return {
        "current_brand": getattr(request, "brand", None),
        "current_staff": staff,
        "is_brand_admin": bool(staff and roles.can_manage_stores(staff)),
        "can_manage_staff": bool(staff and roles.can_manage_staff(staff)),
    }
