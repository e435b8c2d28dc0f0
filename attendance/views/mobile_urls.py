"""Staff phone pages of attendance (consent, PIN, face enrollment, phone punch, 我的考勤)."""

from django.urls import path  # noqa: F401

urlpatterns: list = []
