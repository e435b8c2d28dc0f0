"""The developer centre's pages, under /dashboard/developers/ (included from retail/urls.py)."""

from django.urls import path

from retail.developers import views, webhook_views

urlpatterns = [
    path("", views.app_list, name="dev-apps"),
    path("apps/new/", views.app_new, name="dev-app-new"),
    path("apps/<int:app_id>/", views.app_detail, name="dev-app"),
    path("apps/<int:app_id>/edit/", views.app_edit, name="dev-app-edit"),
    path("apps/<int:app_id>/rotate-secret/", views.app_rotate, name="dev-app-rotate"),
    path("apps/<int:app_id>/revoke/", views.app_revoke, name="dev-app-revoke"),
    path("apps/<int:app_id>/webhooks/new/", webhook_views.endpoint_new, name="dev-endpoint-new"),
    path("webhooks/<int:endpoint_id>/", webhook_views.endpoint_detail, name="dev-endpoint"),
    path("webhooks/<int:endpoint_id>/enable/", webhook_views.endpoint_enable, name="dev-endpoint-enable"),
    path(
        "webhooks/<int:endpoint_id>/rotate-secret/", webhook_views.endpoint_rotate, name="dev-endpoint-rotate"
    ),
    path("webhooks/<int:endpoint_id>/test/", webhook_views.endpoint_test, name="dev-endpoint-test"),
    path("webhooks/<int:endpoint_id>/delete/", webhook_views.endpoint_delete, name="dev-endpoint-delete"),
    path("deliveries/", webhook_views.delivery_list, name="dev-deliveries"),
    path("deliveries/<int:delivery_id>/", webhook_views.delivery_detail, name="dev-delivery"),
    path("deliveries/<int:delivery_id>/replay/", webhook_views.delivery_replay, name="dev-delivery-replay"),
    path("activity/", views.activity, name="dev-activity"),
    path("docs/", views.docs, name="dev-docs"),
]
