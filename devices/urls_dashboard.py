"""Console pages for devices (/dashboard/devices/)."""

from django.urls import path

from devices.views import dashboard as views

urlpatterns = [
    path("", views.device_list, name="dash-devices"),
    path("new/", views.device_new, name="dash-device-new"),
    path("<int:device_id>/", views.device_detail, name="dash-device"),
    path("<int:device_id>/edit/", views.device_edit, name="dash-device-edit"),
    path("<int:device_id>/settings/", views.device_settings, name="dash-device-settings"),
    path("<int:device_id>/pairing-code/", views.device_pairing_code, name="dash-device-pairing-code"),
    path("<int:device_id>/rotate/", views.device_rotate, name="dash-device-rotate"),
    path("<int:device_id>/disable/", views.device_disable, name="dash-device-disable"),
    path("<int:device_id>/enable/", views.device_enable, name="dash-device-enable"),
    path("<int:device_id>/open-door/", views.door_open, name="dash-device-open-door"),
    path("<int:device_id>/command/", views.command_send, name="dash-device-command"),
]
