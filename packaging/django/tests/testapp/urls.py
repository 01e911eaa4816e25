from django.urls import path

from . import views

urlpatterns = [
    path("events/", views.event_list),
    path("events/<int:pk>/", views.event_detail),
    path("in-view/", views.added_in_view),
    path("in-template/", views.template_tagged),
]
