"""Pages of the membership programme (shopper pages, the guide's member pages, the dashboard)."""

from django.urls import path

from members import views

urlpatterns = [
    # Shoppers (public; the brand comes from the slug)
    path("j/<slug:brand_slug>/<str:token>/", views.join, name="member-join"),
    path("j/<slug:brand_slug>/<str:token>/code/", views.join_send_code, name="member-join-code"),
    path("s/<slug:brand_slug>/", views.shopper_home, name="shopper-home"),
    path("s/<slug:brand_slug>/code/", views.shopper_code, name="shopper-code"),
    path("s/<slug:brand_slug>/guide/", views.shopper_guide, name="shopper-guide"),
    path("s/<slug:brand_slug>/login/", views.shopper_login, name="shopper-login"),
    path("s/<slug:brand_slug>/login/code/", views.shopper_send_code, name="shopper-login-code"),
    path("s/<slug:brand_slug>/data/", views.shopper_data, name="shopper-data"),
    path("s/<slug:brand_slug>/data/consent/", views.shopper_consent, name="shopper-consent"),
    path("s/<slug:brand_slug>/data/erase/", views.shopper_erase, name="shopper-erase"),
    path("s/<slug:brand_slug>/logout/", views.shopper_logout, name="shopper-logout"),
    path("s/<slug:brand_slug>/terms/<str:kind>/", views.shopper_policy, name="shopper-policy"),
    path(
        "s/<slug:brand_slug>/terms/<str:kind>/<int:version>/",
        views.shopper_policy,
        name="shopper-policy-version",
    ),
    # Guide mobile UI
    path("m/members/", views.member_list, name="members-tab"),
    path("m/members/scan/", views.member_scan, name="m-member-scan"),
    path("m/members/<int:member_id>/", views.member_detail, name="m-member"),
    path("m/members/<int:member_id>/tags/", views.member_tags, name="member-tags"),
    path("m/qr/", views.join_qr, name="m-join-qr"),
    # Brand dashboard
    path("dashboard/members/", views.dash_member_list, name="dash-members"),
    path("dashboard/members/export/", views.dash_member_export, name="dash-members-export"),
    path("dashboard/members/<int:member_id>/", views.dash_member_detail, name="dash-member"),
    path("dashboard/members/<int:member_id>/guide/", views.dash_member_guide, name="dash-member-guide"),
    path("dashboard/members/<int:member_id>/points/", views.dash_member_points, name="dash-member-points"),
    path("dashboard/members/merges/", views.dash_merges, name="dash-merges"),
    path("dashboard/members/merges/<int:merge_id>/undo/", views.dash_merge_undo, name="dash-merge-undo"),
    path("dashboard/members/import/", views.dash_import, name="dash-member-import"),
    path(
        "dashboard/members/import/template.csv",
        views.dash_import_template,
        name="dash-member-import-template",
    ),
    path("dashboard/members/jobs/<int:job_id>/", views.dash_job, name="dash-member-job"),
    path(
        "dashboard/members/jobs/<int:job_id>/progress/",
        views.dash_job_progress,
        name="dash-member-job-progress",
    ),
    path("dashboard/members/jobs/<int:job_id>/file/", views.dash_job_file, name="dash-member-job-file"),
    path("dashboard/members/handover/", views.dash_handover, name="dash-handover"),
    path("dashboard/members/handover/members/", views.dash_handover_members, name="dash-handover-members"),
    path("dashboard/membership/", views.dash_program, name="dash-program"),
    path("dashboard/membership/texts/<str:kind>/", views.dash_policy, name="dash-policy"),
    path("dashboard/membership/tiers/new/", views.dash_tier, name="dash-tier-new"),
    path("dashboard/membership/tiers/<int:tier_id>/", views.dash_tier, name="dash-tier"),
    path("dashboard/membership/tags/new/", views.dash_tag_new, name="dash-tag-new"),
    path("dashboard/membership/tags/<int:tag_id>/rule/", views.dash_tag_rule, name="dash-tag-rule"),
]
