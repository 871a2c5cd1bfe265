"""Periodic work for connections: refresh OAuth2 tokens before they expire."""

from celery import shared_task

from connections.oauth import credentials_refresh_expiring


@shared_task(name="connections.refresh_expiring_tokens", ignore_result=True)
def refresh_expiring_tokens() -> dict:
    """Refresh every OAuth2 token that expires within OAUTH_REFRESH_MARGIN_SECONDS. Safe to run on
    several workers at once: each token is refreshed by one of them only."""
    return credentials_refresh_expiring()
