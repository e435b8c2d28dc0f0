"""The membership REST API (mounted under /api/v1/): members, their identities, tags and points,
the brand's tags, and member codes scanned at checkout."""

from django.urls import path

from members import api

urlpatterns = [
    path("members/", api.MemberListView.as_view(), name="member-list"),
    path("members/lookup/", api.MemberLookupView.as_view(), name="member-lookup"),
    path("members/<int:pk>/", api.MemberDetailView.as_view(), name="member-detail"),
    path("members/<int:pk>/identities/", api.MemberIdentitiesView.as_view(), name="member-identities"),
    path("members/<int:pk>/points/", api.MemberPointsView.as_view(), name="member-points"),
    path("members/<int:pk>/points/earn/", api.MemberPointsEarnView.as_view(), name="member-points-earn"),
    path(
        "members/<int:pk>/points/redeem/", api.MemberPointsRedeemView.as_view(), name="member-points-redeem"
    ),
    path("members/<int:pk>/tags/", api.MemberTagsView.as_view(), name="member-tags"),
    path("tags/", api.TagListView.as_view(), name="tag-list"),
    path("member-codes/resolve/", api.MemberCodeResolveView.as_view(), name="api-member-code-resolve"),
]
