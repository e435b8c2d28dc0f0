from django.db import migrations

from retail.rls import EnableRowLevelSecurity, same_brand_fk

TABLES = [
    "members_membershipprogram",
    "members_tier",
    "members_member",
    "members_memberidentity",
    "members_guidebinding",
    "members_pointsentry",
    "members_tag",
    "members_tagrule",
    "members_membertag",
    "members_consentrecord",
    "members_mergerecord",
    "members_memberjob",
]


class Migration(migrations.Migration):
    dependencies = [("members", "0001_initial"), ("retail", "0003_staff_name_index")]

    operations = [
        *[EnableRowLevelSecurity(t) for t in TABLES],
        same_brand_fk("members_member", "tier_id", "members_tier"),
        same_brand_fk("members_member", "join_store_id", "retail_store"),
        same_brand_fk("members_member", "join_guide_id", "retail_staff"),
        same_brand_fk("members_member", "guide_id", "retail_staff"),
        same_brand_fk("members_member", "merged_into_id", "members_member"),
        same_brand_fk("members_memberidentity", "member_id", "members_member"),
        same_brand_fk("members_guidebinding", "member_id", "members_member"),
        same_brand_fk("members_guidebinding", "guide_id", "retail_staff"),
        same_brand_fk("members_pointsentry", "member_id", "members_member"),
        same_brand_fk("members_tagrule", "tag_id", "members_tag"),
        same_brand_fk("members_membertag", "member_id", "members_member"),
        same_brand_fk("members_membertag", "tag_id", "members_tag"),
        same_brand_fk("members_consentrecord", "member_id", "members_member"),
        same_brand_fk("members_mergerecord", "survivor_id", "members_member"),
        same_brand_fk("members_mergerecord", "absorbed_id", "members_member"),
    ]
