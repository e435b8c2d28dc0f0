"""Staff phone pages of attendance (consent, PIN, face enrollment, phone punch, 我的考勤)."""

from django.urls import path

from attendance.views import mobile

urlpatterns = [
    path("m/attendance/", mobile.home, name="att-m-home"),
    path("m/attendance/punch/", mobile.punch, name="att-m-punch"),
    path("m/attendance/punch/check/", mobile.punch_check, name="att-m-punch-check"),
    path("m/attendance/punch/send/", mobile.punch_submit, name="att-m-punch-send"),
    path("m/attendance/records/", mobile.my_records, name="att-m-records"),
    path("m/attendance/face/", mobile.face, name="att-m-face"),
    path("m/attendance/face/consent/", mobile.consent, name="att-m-consent"),
    path("m/attendance/face/withdraw/", mobile.withdraw, name="att-m-withdraw"),
    path("m/attendance/face/enroll/", mobile.enroll, name="att-m-enroll"),
    path("m/attendance/pin/", mobile.pin, name="att-m-pin"),
]
