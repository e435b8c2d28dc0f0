from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("retail", "0005_user_language"),
    ]

    operations = [
        migrations.AddField(
            model_name="staff",
            name="kind",
            field=models.CharField(
                choices=[("person", "Person"), ("app", "Partner app")],
                default="person",
                max_length=8,
                verbose_name="kind",
            ),
        ),
    ]
