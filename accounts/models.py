"""Organisations (the tenants), their people and groups, and API keys."""

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group
from django.db import models


class Organisation(models.Model):
    """A company (the "business unit"): the tenant. Nothing of one is visible to another."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    # Company-level grants go to this group, which holds every member of the organisation.
    members_group = models.OneToOneField(
        Group, on_delete=models.PROTECT, related_name="company_of", null=True, blank=True, editable=False
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person. Belongs to one organisation; a platform administrator operates the platform.

    Being a platform administrator (or a superuser) never by itself lets anyone call a tool.
    """

    organisation = models.ForeignKey(
        Organisation, on_delete=models.PROTECT, related_name="members", null=True, blank=True
    )
    is_platform_admin = models.BooleanField(
        "platform administrator",
        default=False,
        help_text="May configure integrations for the whole platform in the admin.",
    )
    is_designer = models.BooleanField(
        "process designer",
        default=False,
        help_text="May create connections for their organisation and design processes.",
    )

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class OrganisationGroup(models.Model):
    """Which organisation a group belongs to. The company-wide group is one of them."""

    group = models.OneToOneField(Group, on_delete=models.CASCADE, primary_key=True, related_name="organisation_link")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="group_links")
    is_company = models.BooleanField(default=False, editable=False)

    class Meta:
        verbose_name = "organisation group"

    def __str__(self) -> str:
        return f"{self.group.name} ({self.organisation})"


class ApiKey(models.Model):
    """A long random key, shown once, stored as its SHA-256 digest with a short lookup prefix."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, unique=True, editable=False)
    digest = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
