from django.db import migrations

from retail.rls import USER_MATCH, EnableRowLevelSecurity, append_only, same_brand_fk


class Migration(migrations.Migration):
    dependencies = [("retail", "0001_initial")]

    operations = [
        EnableRowLevelSecurity("retail_store"),
        # A user sees their own staff records in every brand (the brand picker), writes stay scoped.
        EnableRowLevelSecurity("retail_staff", also_visible=USER_MATCH),
        EnableRowLevelSecurity("retail_staffstore"),
        EnableRowLevelSecurity("retail_invitation"),
        EnableRowLevelSecurity("retail_auditlog"),
        same_brand_fk("retail_staffstore", "staff_id", "retail_staff"),
        same_brand_fk("retail_staffstore", "store_id", "retail_store"),
        same_brand_fk("retail_invitation", "staff_id", "retail_staff"),
        append_only("retail_auditlog"),
    ]
