from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from clinic.admin_utils import AuditedAutocompleteJsonView
from clinic.api.auth import LogoutView, TokenObtainView, TokenRefreshView
from clinic.health import HealthView
from scheduling.api.urls import feed_urlpatterns

api_v1 = [
    path("auth/token/", TokenObtainView.as_view(), name="token-obtain"),
    path("auth/token/refresh/", TokenRefreshView.as_view(), name="token-refresh"),
    path("auth/logout/", LogoutView.as_view(), name="logout"),
    path("", include("clinic.api.urls")),
    path("", include("patients.api.urls")),
    path("", include("scheduling.api.urls")),
    path("", include("programs.api.urls")),
]

urlpatterns = [
    path(
        "admin/autocomplete/",
        admin.site.admin_view(AuditedAutocompleteJsonView.as_view(admin_site=admin.site)),
        name="autocomplete",
    ),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    path("", include(feed_urlpatterns)),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("health/", HealthView.as_view(), name="health"),
]

handler400 = "clinic.api.errors.handler400"
handler403 = "clinic.api.errors.handler403"
handler404 = "clinic.api.errors.handler404"
handler500 = "clinic.api.errors.handler500"
