from django.urls import path

from kameng.helpcenter import views

app_name = "helpcenter"
urlpatterns = [
    path("", views.index, name="index"),
    path("search", views.search, name="search"),
    path("<slug:slug>/", views.article, name="article"),
]
