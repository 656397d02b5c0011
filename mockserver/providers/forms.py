"""``multipart/form-data`` bodies, parsed with the standard library's MIME parser.

Only upload routes take form data, and their bodies are already bounded by
the route's body limit, so a whole-body parse is enough (no streaming).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

__all__ = ["FormPart", "parse_form_data"]


@dataclass(frozen=True)
class FormPart:
    """One field of a form: its value, and for a file its name and declared type."""

    name: str
    data: bytes
    filename: str | None
    content_type: str | None


def parse_form_data(content_type: str, body: bytes) -> dict[str, FormPart] | None:
    """The fields of a ``multipart/form-data`` body by name (the first of a repeated name).

    None when the content type is not multipart/form-data with a boundary, or
    the body does not parse as one.
    """
    media_type, _, _ = content_type.partition(";")
    if media_type.strip().lower() != "multipart/form-data" or "boundary=" not in content_type:
        return None
    head = b"Content-Type: " + content_type.encode("latin-1", "replace") + b"\r\n\r\n"
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart() or message.defects:
        return None
    fields: dict[str, FormPart] = {}
    for part in message.iter_parts():
        assert isinstance(part, Message)
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or name in fields:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        declared = part.get("content-type")
        fields[name] = FormPart(name, data, part.get_filename(),
                                part.get_content_type() if declared else None)
    return fields
