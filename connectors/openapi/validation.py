"""Checking a document against the official OpenAPI JSON Schema of its version (placeholder)."""


def validate_document(document: dict, dialect: str) -> list[str]:
    return []
