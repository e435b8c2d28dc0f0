from django.conf import settings
from django.contrib import admin
from django.urls import include, path, re_path

from retail import private_files, views

# The REST API: each app lists its own endpoints in <app>/api_urls.py.
api_v1 = [
    path("", include("retail.api_urls")),
    path("", include("members.api_urls")),
    path("", include("cloudstore.api_urls")),
    path("", include("redpackets.api_urls")),
    path("", include("devices.api_urls")),
    path("", include("attendance.api_urls")),
    path("", include("guides.api_urls")),
    path("", include("retail.webhooks.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("i18n/setlang/", views.set_language, name="set_language"),
    path("healthz", views.healthz, name="healthz"),
    path("", views.root, name="root"),
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("brands/", views.brand_picker, name="brand-picker"),
    path("invite/<slug:brand_slug>/<str:token>/", views.invitation_accept, name="invitation-accept"),
    # Staff mobile UI
    path("m/", views.home, name="home"),
    path("m/me/", views.me_tab, name="me-tab"),
    path("m/me/password/", views.password_change, name="password-change"),
    path("m/team/", views.team, name="team"),
    # Brand admin dashboard
    path("dashboard/", views.dashboard, name="dashboard"),
    path("dashboard/stores/", views.store_list, name="dash-stores"),
    path("dashboard/stores/new/", views.store_edit, name="dash-store-new"),
    path("dashboard/stores/<int:store_id>/", views.store_edit, name="dash-store-edit"),
    path("dashboard/staff/", views.staff_list, name="dash-staff"),
    path("dashboard/staff/new/", views.staff_invite, name="dash-staff-new"),
    path("dashboard/staff/<int:staff_id>/", views.staff_edit, name="dash-staff-edit"),
    path(
        "dashboard/staff/<int:staff_id>/deactivate/",
        views.staff_deactivate,
        name="dash-staff-deactivate",
    ),
    path(
        "dashboard/staff/<int:staff_id>/reactivate/",
        views.staff_reactivate,
        name="dash-staff-reactivate",
    ),
    path("dashboard/staff/<int:staff_id>/reinvite/", views.staff_reinvite, name="dash-staff-reinvite"),
    path("dashboard/staff/<int:staff_id>/invited/", views.staff_invited, name="dash-staff-invited"),
    path("dashboard/audit/", views.audit_log, name="dash-audit"),
    path("dashboard/developers/", include("retail.developers.urls")),
    path("", include("members.urls")),
    path("", include("cloudstore.urls")),
    path("", include("redpackets.urls")),
    path("", include("devices.urls")),
    path("", include("attendance.urls")),
    path("", include("guides.urls")),
]

if settings.SERVE_MEDIA:
    # Uploaded product photos; in production a CDN or object storage serves MEDIA_URL instead.
    # Files with personal data are never media: they are served by views (retail/private_files.py).
    urlpatterns += [re_path(r"^media/(?P<path>.*)$", private_files.serve_public_media)]

handler404 = "retail.views.not_found"
handler500 = "retail.views.server_error"
