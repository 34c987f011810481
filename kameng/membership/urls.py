from django.urls import path

from kameng.membership import views

app_name = "membership"
urlpatterns = [
    path("", views.centre, name="centre"),
    path("plans/", views.plans, name="plans"),
    path("subscribe/", views.subscribe, name="subscribe"),
    path("cancel/", views.cancel, name="cancel"),
    path("receipts/<slug:receipt_no>/", views.receipt, name="receipt"),
]
