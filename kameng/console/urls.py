from django.urls import path

from kameng.console import order_views, views

app_name = "console"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<slug:table>.csv", views.export, name="export"),
    path("agreements/", views.agreements, name="agreements"),
    path("agreements/<int:agreement_id>/query/", views.query_agreement, name="query-agreement"),
    path("orders/<slug:order_no>/", order_views.order, name="order"),
    path("orders/<slug:order_no>/query/", order_views.query_order, name="query-order"),
    path("refunds/<slug:refund_no>/query/", order_views.query_refund, name="query-refund"),
    path("members/", views.find_member, name="find-member"),
    path("keys/import/", views.import_keys, name="import-keys"),
    path("keys/import/chunk/", views.import_keys_chunk, name="import-keys-chunk"),
    path("members/<str:username>/", views.member, name="member"),
    path("members/<str:username>/refund/", views.refund_within_policy, name="refund"),
]
