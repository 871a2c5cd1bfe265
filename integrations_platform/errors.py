"""One error type for business rules, and one JSON shape for every API error.

Services raise ``ApplicationError(message, field_errors={...})``. The DRF exception handler turns
it, DRF's own errors and Django's ``ValidationError`` into::

    {"message": "...", "errors": {"field": ["problem", ...], ...}}

with 400 (or the error's own status); the handler lives in ``exception_handler.py``. Forms turn
it into form errors with ``add_to_form``.
"""

from __future__ import annotations

HTTP_400_BAD_REQUEST = 400


class ApplicationError(Exception):
    """A business rule said no. ``field_errors`` maps a field name (or path) to its problems."""

    status_code = HTTP_400_BAD_REQUEST

    def __init__(
        self,
        message: str,
        *,
        field_errors: dict[str, list[str] | str] | None = None,
        status_code: int | None = None,
        code: str | None = None,
    ):
        super().__init__(message)
        self.message = message
        self.field_errors = {
            key: [value] if isinstance(value, str) else list(value) for key, value in (field_errors or {}).items()
        }
        if status_code is not None:
            self.status_code = status_code
        self.code = code

    def as_dict(self) -> dict:
        body: dict = {"message": self.message, "errors": self.field_errors}
        if self.code:
            body["code"] = self.code
        return body

    def add_to_form(self, form, default_field: str | None = None) -> None:
        """Attach the errors to a Django form: known fields get theirs, the rest go on top."""
        placed = False
        for key, problems in self.field_errors.items():
            field = key.split(".", 1)[0]
            target = field if field in form.fields else default_field
            for problem in problems:
                form.add_error(target, problem if target == field else f"{key}: {problem}")
                placed = True
        if not placed:
            form.add_error(default_field, self.message)
