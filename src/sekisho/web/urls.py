from django.urls import path

from . import views

app_name = "web"

urlpatterns = [
    path("", views.contract_list, name="contract-list"),
    path("login/", views.login_view, name="login"),
    path("login/otp/", views.login_otp_view, name="login-otp"),
    path("login/otp/setup/", views.login_otp_setup_view, name="login-otp-setup"),
    path("logout/", views.logout_view, name="logout"),
    path("contracts/<int:contract_id>/", views.contract_detail, name="contract-detail"),
    path("contracts/<int:contract_id>/transition/", views.contract_transition, name="contract-transition"),
    path("contracts/<int:contract_id>/audit/", views.contract_audit, name="contract-audit"),
    path("healthz", views.healthz, name="healthz"),
]
