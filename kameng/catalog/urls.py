from django.urls import path

from kameng.catalog import views

app_name = "catalog"
urlpatterns = [
    path("", views.home, name="home"),
    path("c/<slug:slug>/", views.home, name="category"),
    path("p/<slug:sku>/", views.product, name="product"),
]
