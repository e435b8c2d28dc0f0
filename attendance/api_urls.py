"""REST API of attendance (partners: punches, day records, shifts and schedules read; schedules
written), mounted under /api/v1/."""

from django.urls import path

from attendance import api

urlpatterns = [
    path("attendance/punches/", api.PunchListView.as_view(), name="api-attendance-punches"),
    path("attendance/day-records/", api.DayRecordListView.as_view(), name="api-attendance-day-records"),
    path("attendance/shifts/", api.ShiftListView.as_view(), name="api-attendance-shifts"),
    path("attendance/schedules/", api.ScheduleView.as_view(), name="api-attendance-schedules"),
]
