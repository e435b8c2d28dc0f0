from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("guides", "0006_notification_device_kinds"),
    ]

    operations = [
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("commission", "Commission earned"),
                    ("clawback", "Commission taken back"),
                    ("statement", "Statement paid"),
                    ("device_offline", "Device offline"),
                    ("device_online", "Device back online"),
                    ("punch", "Punch recorded"),
                    ("access_alert", "Repeated refusals at a device"),
                    ("face_duplicate", "Face enrolled for two people"),
                ],
                max_length=20,
            ),
        ),
    ]
