"""Pages of attendance: the staff's phone pages and the console."""

from django.urls import include, path

urlpatterns = [
    path("", include("attendance.views.mobile_urls")),
    path("", include("attendance.views.console_urls")),
]
