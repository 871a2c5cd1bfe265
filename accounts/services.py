"""Writes for organisations, people, groups and API keys."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.contrib.auth.models import Group
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from accounts.models import ApiKey, Organisation, OrganisationGroup, User
from integrations_platform.errors import ApplicationError

API_KEY_PREFIX = "ipk"
# last_used_at is written at most this often per key, so that authentication stays a read.
API_KEY_TOUCH_INTERVAL = timedelta(seconds=60)


@transaction.atomic
def organisation_create(*, name: str, slug: str = "") -> Organisation:
    organisation = Organisation(name=name, slug=slug or slugify(name)[:100])
    organisation.full_clean()
    organisation.save()
    organisation_ensure_company_group(organisation=organisation)
    return organisation


def organisation_ensure_company_group(*, organisation: Organisation) -> Group:
    """The group that holds every member: company-level grants go to it."""
    if organisation.members_group_id:
        return organisation.members_group
    group, _ = Group.objects.get_or_create(name=f"{organisation.slug}: everyone")
    OrganisationGroup.objects.update_or_create(group=group, defaults={"organisation": organisation, "is_company": True})
    organisation.members_group = group
    organisation.save(update_fields=["members_group"])
    return group


def organisation_get_or_create_default() -> Organisation:
    organisation = Organisation.objects.filter(slug="default").first()
    return organisation or organisation_create(name="Default organisation", slug="default")


@transaction.atomic
def user_create(
    *,
    username: str,
    organisation: Organisation | None,
    password: str | None = None,
    email: str = "",
    is_platform_admin: bool = False,
    is_designer: bool = False,
    is_staff: bool | None = None,
    is_superuser: bool = False,
    first_name: str = "",
    last_name: str = "",
) -> User:
    user = User(
        username=username,
        organisation=organisation,
        email=email,
        is_platform_admin=is_platform_admin,
        is_designer=is_designer,
        is_staff=is_platform_admin or is_superuser if is_staff is None else is_staff,
        is_superuser=is_superuser,
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    user.save()
    user_sync_company_group(user=user)
    return user


def user_sync_company_group(*, user: User) -> None:
    """Keep the user in exactly the company group of their organisation (and groups of no other)."""
    company_groups = Group.objects.filter(organisation_link__is_company=True)
    foreign = user.groups.exclude(organisation_link__organisation_id=user.organisation_id).filter(
        organisation_link__isnull=False
    )
    user.groups.remove(*foreign)
    if user.organisation_id:
        group = organisation_ensure_company_group(organisation=user.organisation)
        user.groups.remove(*company_groups.exclude(pk=group.pk).filter(user=user))
        user.groups.add(group)


def _group_members_check(organisation: Organisation, members) -> None:
    foreign = [m.username for m in members if m.organisation_id != organisation.pk]
    if foreign:
        raise ApplicationError(
            "Only members of the organisation can join its groups.",
            field_errors={"members": f"Not members of {organisation}: {', '.join(foreign)}"},
        )


def _group_full_name(organisation: Organisation, name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise ApplicationError("Give the group a name of 1 to 100 characters.", field_errors={"name": "Required."})
    return f"{organisation.slug}: {name}"


@transaction.atomic
def group_create(*, organisation: Organisation, name: str, members: list[User] = (), actor=None) -> Group:
    """A group of one organisation. Its name is unique platform-wide, so it is prefixed."""
    from audit.services import audit_record

    full_name = _group_full_name(organisation, name)
    if Group.objects.filter(name=full_name).exists():
        raise ApplicationError("A group with this name exists.", field_errors={"name": "Already used."})
    _group_members_check(organisation, members)
    group = Group.objects.create(name=full_name)
    OrganisationGroup.objects.create(group=group, organisation=organisation)
    group.user_set.add(*members)
    if actor is not None:
        audit_record(
            actor=actor, action="group.create", obj=group, organisation=organisation,
            changes={"name": full_name, "members": sorted(m.pk for m in members)},
        )
    return group


@transaction.atomic
def group_update(*, group: Group, name: str, members: list[User], actor=None) -> Group:
    """Rename an organisation's group and set its members (who may use what is granted to it).
    The company group is the platform's: it holds every member and is not edited."""
    from audit.services import audit_record

    link = OrganisationGroup.objects.select_related("organisation").filter(group=group).first()
    if link is None or link.is_company:
        raise ApplicationError("This group is kept by the platform and cannot be edited.", status_code=403)
    organisation = link.organisation
    full_name = _group_full_name(organisation, name)
    if Group.objects.filter(name=full_name).exclude(pk=group.pk).exists():
        raise ApplicationError("A group with this name exists.", field_errors={"name": "Already used."})
    _group_members_check(organisation, members)
    before = {"name": group.name, "members": sorted(group.user_set.values_list("pk", flat=True))}
    group.name = full_name
    group.save(update_fields=["name"])
    group.user_set.set(members)
    after = {"name": full_name, "members": sorted(m.pk for m in members)}
    if before != after:
        audit_record(
            actor=actor, action="group.update", obj=group, organisation=organisation,
            changes={"before": before, "after": after},
        )
    return group


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user: User, name: str) -> tuple[ApiKey, str]:
    """Create a key; returns it with the raw value, which is shown once and never stored."""
    if not name or len(name) > 100:
        raise ApplicationError("Give the key a name of at most 100 characters.", field_errors={"name": "Required."})
    prefix = secrets.token_hex(6)
    raw = f"{API_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(user=user, name=name, prefix=prefix, digest=_digest(raw))
    return key, raw


def api_key_authenticate(*, raw: str) -> User | None:
    """The active user the key belongs to, or None. One indexed lookup, one digest compare."""
    parts = raw.split("_", 2)
    if len(parts) != 3 or parts[0] != API_KEY_PREFIX or len(raw) > 200:
        return None
    key = (
        ApiKey.objects.select_related("user", "user__organisation")
        .filter(prefix=parts[1], revoked_at__isnull=True)
        .first()
    )
    if key is None or not hmac.compare_digest(key.digest, _digest(raw)) or not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or now - key.last_used_at > API_KEY_TOUCH_INTERVAL:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key.user


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
