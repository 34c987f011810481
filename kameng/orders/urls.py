from django.urls import path

from kameng.orders import views

app_name = "orders"
urlpatterns = [
    path("", views.my_orders, name="list"),
    path("checkout/", views.checkout, name="checkout"),
    path("<slug:order_no>/", views.detail, name="detail"),
    path("<slug:order_no>/pay/", views.pay, name="pay"),
    path("<slug:order_no>/status/", views.status, name="status"),
]
