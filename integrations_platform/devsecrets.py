"""Development secrets, generated once into a git-ignored file readable only by its owner.

Production never comes here: with ``DJANGO_ENV=production`` the settings refuse to start unless
``SECRET_KEY`` and ``FIELD_ENCRYPTION_KEY`` are set in the environment.
"""

import json
import os
import secrets
from pathlib import Path

from cryptography.fernet import Fernet


def load_or_create(path: Path) -> dict[str, str]:
    """Return the development secrets stored at ``path``, creating the file (mode 0600) once."""
    if path.exists():
        return json.loads(path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    values = {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
    }
    # Written whole to a private temporary file, then linked into place: link() fails when the
    # file exists, so two processes starting at once agree on one set of secrets.
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump(values, fh)
    try:
        os.link(tmp, path)
    except FileExistsError:
        values = json.loads(path.read_text())
    finally:
        tmp.unlink()
    return values
