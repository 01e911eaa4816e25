from django.urls import path

from events import views

urlpatterns = [
    path("events/", views.event_list),
    path("events/<int:pk>/", views.event_detail),
    path("add/", views.add),
    path("edit/<int:pk>/", views.edit),
    path("renders/", views.renders),
    path("proxy-check/", views.proxy_check),
]
