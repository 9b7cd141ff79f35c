from django.urls import path

from . import views

urlpatterns = [
    path("", views.index),
    path("users/", views.users),
    path("form/", views.form),
    path("login/", views.login_view),
    path("whoami/", views.whoami),
    path("logout/", views.logout_view),
    path("upload/", views.upload),
    path("stream/", views.stream),
    path("crash/", views.crash),
]
