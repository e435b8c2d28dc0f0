from django.db import migrations

from retail.rls import EnableRowLevelSecurity, same_brand_fk

TABLES = [
    "guides_messagingsettings",
    "guides_guidechatsettings",
    "guides_conversation",
    "guides_message",
    "guides_cannedreply",
    "guides_guidenote",
    "guides_broadcast",
    "guides_massquota",
    "guides_shopperreport",
]


class Migration(migrations.Migration):
    dependencies = [("guides", "0008_messaging")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        same_brand_fk("guides_guidechatsettings", "staff_id", "retail_staff"),
        same_brand_fk("guides_conversation", "member_id", "members_member"),
        same_brand_fk("guides_conversation", "blocked_by_id", "retail_staff"),
        same_brand_fk("guides_message", "conversation_id", "guides_conversation"),
        same_brand_fk("guides_message", "staff_id", "retail_staff"),
        same_brand_fk("guides_message", "broadcast_id", "guides_broadcast"),
        same_brand_fk("guides_cannedreply", "staff_id", "retail_staff"),
        same_brand_fk("guides_guidenote", "staff_id", "retail_staff"),
        same_brand_fk("guides_guidenote", "member_id", "members_member"),
        same_brand_fk("guides_broadcast", "created_by_id", "retail_staff"),
        same_brand_fk("guides_massquota", "member_id", "members_member"),
        same_brand_fk("guides_shopperreport", "conversation_id", "guides_conversation"),
        same_brand_fk("guides_shopperreport", "staff_id", "retail_staff"),
    ]
