"""Small platform-wide API views."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    organisation = serializers.CharField(allow_null=True)
    is_platform_admin = serializers.BooleanField()
    is_designer = serializers.BooleanField()
    authenticated_by = serializers.CharField(allow_null=True)


class MeView(APIView):
    """Who the token belongs to: a quick check that authentication works."""

    @extend_schema(responses=MeSerializer)
    def get(self, request):
        user = request.user
        return Response(
            MeSerializer(
                {
                    "username": user.username,
                    "organisation": user.organisation.slug if user.organisation_id else None,
                    "is_platform_admin": user.is_platform_admin,
                    "is_designer": user.is_designer,
                    "authenticated_by": request.auth if isinstance(request.auth, str) else "session",
                }
            ).data
        )
