from django.urls import path

from kameng.console import views

app_name = "console"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("export/<slug:table>.csv", views.export, name="export"),
    path("agreements/", views.agreements, name="agreements"),
    path("agreements/<int:agreement_id>/query/", views.query_agreement, name="query-agreement"),
    path("members/", views.find_member, name="find-member"),
    path("keys/import/", views.import_keys, name="import-keys"),
    path("keys/import/chunk/", views.import_keys_chunk, name="import-keys-chunk"),
    path("members/<str:username>/", views.member, name="member"),
    path("members/<str:username>/refund/", views.refund_within_policy, name="refund"),
]
