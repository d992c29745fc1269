from django.urls import path

from . import views

app_name = "devices"

urlpatterns = [
    path("contracts/<int:contract_id>/devices/", views.device_list, name="device-list"),
    path("contracts/<int:contract_id>/devices/register/", views.device_register, name="device-register"),
    path("contracts/<int:contract_id>/devices/policy/", views.posture_policy_update, name="posture-policy"),
    path("contracts/<int:contract_id>/devices/<uuid:uid>/", views.device_detail, name="device-detail"),
    path(
        "contracts/<int:contract_id>/devices/<uuid:uid>/<slug:action>/",
        views.device_action,
        name="device-action",
    ),
    path("contracts/<int:contract_id>/media/", views.media_list, name="media-list"),
    path("contracts/<int:contract_id>/media/register/", views.medium_register, name="medium-register"),
    path("contracts/<int:contract_id>/media/<int:medium_id>/", views.medium_detail, name="medium-detail"),
    path(
        "contracts/<int:contract_id>/media/<int:medium_id>/<slug:action>/",
        views.medium_action,
        name="medium-action",
    ),
    path("devices/bind/<str:token>/", views.bind, name="bind"),
]
