"""Pages of the membership programme (shopper pages, the guide's member pages, the dashboard)."""

from django.urls import path

from members.views import dashboard, mobile, shopper_pages

urlpatterns = [
    # Shoppers (public; the brand comes from the slug)
    path("j/<slug:brand_slug>/<str:token>/", shopper_pages.join, name="member-join"),
    path("j/<slug:brand_slug>/<str:token>/code/", shopper_pages.join_send_code, name="member-join-code"),
    path("s/<slug:brand_slug>/", shopper_pages.shopper_home, name="shopper-home"),
    path("s/<slug:brand_slug>/code/", shopper_pages.shopper_code, name="shopper-code"),
    path("s/<slug:brand_slug>/guide/", shopper_pages.shopper_guide, name="shopper-guide"),
    path("s/<slug:brand_slug>/login/", shopper_pages.shopper_login, name="shopper-login"),
    path("s/<slug:brand_slug>/login/code/", shopper_pages.shopper_send_code, name="shopper-login-code"),
    path("s/<slug:brand_slug>/data/", shopper_pages.shopper_data, name="shopper-data"),
    path("s/<slug:brand_slug>/data/consent/", shopper_pages.shopper_consent, name="shopper-consent"),
    path("s/<slug:brand_slug>/data/erase/", shopper_pages.shopper_erase, name="shopper-erase"),
    path("s/<slug:brand_slug>/logout/", shopper_pages.shopper_logout, name="shopper-logout"),
    path("s/<slug:brand_slug>/terms/<str:kind>/", shopper_pages.shopper_policy, name="shopper-policy"),
    path(
        "s/<slug:brand_slug>/terms/<str:kind>/<int:version>/",
        shopper_pages.shopper_policy,
        name="shopper-policy-version",
    ),
    # Guide mobile UI
    path("m/members/", mobile.member_list, name="members-tab"),
    path("m/members/scan/", mobile.member_scan, name="m-member-scan"),
    path("m/members/<int:member_id>/", mobile.member_detail, name="m-member"),
    path("m/members/<int:member_id>/tags/", mobile.member_tags, name="member-tags"),
    path("m/qr/", mobile.join_qr, name="m-join-qr"),
    # Brand dashboard
    path("dashboard/members/", dashboard.dash_member_list, name="dash-members"),
    path("dashboard/members/export/", dashboard.dash_member_export, name="dash-members-export"),
    path("dashboard/members/<int:member_id>/", dashboard.dash_member_detail, name="dash-member"),
    path("dashboard/members/<int:member_id>/guide/", dashboard.dash_member_guide, name="dash-member-guide"),
    path(
        "dashboard/members/<int:member_id>/points/", dashboard.dash_member_points, name="dash-member-points"
    ),
    path("dashboard/members/merges/", dashboard.dash_merges, name="dash-merges"),
    path("dashboard/members/merges/<int:merge_id>/undo/", dashboard.dash_merge_undo, name="dash-merge-undo"),
    path("dashboard/members/import/", dashboard.dash_import, name="dash-member-import"),
    path(
        "dashboard/members/import/template.csv",
        dashboard.dash_import_template,
        name="dash-member-import-template",
    ),
    path("dashboard/members/jobs/<int:job_id>/", dashboard.dash_job, name="dash-member-job"),
    path(
        "dashboard/members/jobs/<int:job_id>/progress/",
        dashboard.dash_job_progress,
        name="dash-member-job-progress",
    ),
    path("dashboard/members/jobs/<int:job_id>/file/", dashboard.dash_job_file, name="dash-member-job-file"),
    path("dashboard/members/handover/", dashboard.dash_handover, name="dash-handover"),
    path(
        "dashboard/members/handover/members/", dashboard.dash_handover_members, name="dash-handover-members"
    ),
    path("dashboard/membership/", dashboard.dash_program, name="dash-program"),
    path("dashboard/membership/texts/<str:kind>/", dashboard.dash_policy, name="dash-policy"),
    path("dashboard/membership/tiers/new/", dashboard.dash_tier, name="dash-tier-new"),
    path("dashboard/membership/tiers/<int:tier_id>/", dashboard.dash_tier, name="dash-tier"),
    path("dashboard/membership/tags/new/", dashboard.dash_tag_new, name="dash-tag-new"),
    path("dashboard/membership/tags/<int:tag_id>/rule/", dashboard.dash_tag_rule, name="dash-tag-rule"),
]
