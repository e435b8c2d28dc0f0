from django.db import migrations

from retail.rls import EnableRowLevelSecurity, same_brand_fk

TABLES = [
    "attendance_attendancepolicy",
    "attendance_consenttext",
    "attendance_faceconsent",
    "attendance_faceencoding",
    "attendance_staffpin",
    "attendance_shifttemplate",
    "attendance_schedule",
    "attendance_punch",
    "attendance_dayrecord",
    "attendance_correction",
    "attendance_accessrecord",
]


class Migration(migrations.Migration):
    dependencies = [("attendance", "0001_initial")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        same_brand_fk("attendance_attendancepolicy", "updated_by_id", "retail_staff"),
        same_brand_fk("attendance_consenttext", "created_by_id", "retail_staff"),
        same_brand_fk("attendance_faceconsent", "staff_id", "retail_staff"),
        same_brand_fk("attendance_faceconsent", "text_id", "attendance_consenttext"),
        same_brand_fk("attendance_faceencoding", "staff_id", "retail_staff"),
        same_brand_fk("attendance_staffpin", "staff_id", "retail_staff"),
        same_brand_fk("attendance_shifttemplate", "store_id", "retail_store"),
        same_brand_fk("attendance_schedule", "staff_id", "retail_staff"),
        same_brand_fk("attendance_schedule", "store_id", "retail_store"),
        same_brand_fk("attendance_schedule", "shift_id", "attendance_shifttemplate"),
        same_brand_fk("attendance_schedule", "created_by_id", "retail_staff"),
        same_brand_fk("attendance_punch", "staff_id", "retail_staff"),
        same_brand_fk("attendance_punch", "store_id", "retail_store"),
        same_brand_fk("attendance_punch", "device_id", "devices_device"),
        same_brand_fk("attendance_dayrecord", "staff_id", "retail_staff"),
        same_brand_fk("attendance_dayrecord", "store_id", "retail_store"),
        same_brand_fk("attendance_correction", "day_id", "attendance_dayrecord"),
        same_brand_fk("attendance_correction", "by_id", "retail_staff"),
        same_brand_fk("attendance_accessrecord", "device_id", "devices_device"),
        same_brand_fk("attendance_accessrecord", "staff_id", "retail_staff"),
    ]
