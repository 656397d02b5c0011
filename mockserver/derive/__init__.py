"""Provider documents -> model contracts (``mockserver contracts build|check``).

What every parser shares (``common``) and the command (``command``). Each
provider's own parser is ``mockserver/providers/<provider>/documents.py``,
named by its kit (``ProviderKit.parse_document``); the front end running the
command passes them in (``registry.document_parsers()``): derive imports no
provider. Pure: no web framework or HTTP client imports.
"""

from __future__ import annotations

from mockserver.derive.common import DeriveError, SourceDocument, dump_contract

__all__ = ["DeriveError", "SourceDocument", "dump_contract"]
