from rest_framework.throttling import ScopedRateThrottle
from rest_framework_simplejwt.views import TokenObtainPairView


class TokenObtainView(TokenObtainPairView):
    """``POST auth/token/`` with its own, tighter throttle against password guessing."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"
