"""Console pages of attendance (policy, consent text, calibration, shifts, schedules, records)."""

from django.urls import path

from attendance.views import console as views

urlpatterns = [
    path("dashboard/attendance/", views.today, name="dash-attendance"),
    path("dashboard/attendance/records/", views.day_records, name="dash-att-records"),
    path("dashboard/attendance/records.csv", views.day_records_csv, name="dash-att-records-csv"),
    path("dashboard/attendance/people/<int:staff_id>/", views.person_month, name="dash-att-person"),
    path("dashboard/attendance/days/<int:day_id>/correct/", views.day_correct, name="dash-att-correct"),
    path("dashboard/attendance/shifts/", views.shifts, name="dash-att-shifts"),
    path("dashboard/attendance/shifts/<int:shift_id>/", views.shift_edit, name="dash-att-shift"),
    path("dashboard/attendance/schedules/", views.schedules, name="dash-att-schedules"),
    path("dashboard/attendance/access/", views.access_log, name="dash-att-access"),
    path("dashboard/attendance/faces/", views.faces, name="dash-att-faces"),
    path("dashboard/attendance/faces/<int:staff_id>/delete/", views.face_delete, name="dash-att-face-delete"),
    path("dashboard/attendance/consent/", views.consent, name="dash-att-consent"),
    path("dashboard/attendance/policy/", views.policy, name="dash-att-policy"),
    path("dashboard/attendance/calibration/", views.calibration_page, name="dash-att-calibration"),
]
