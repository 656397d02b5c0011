"""Provider documents -> model contracts (``mockserver contracts build|check``).

One parser per document format: ``eachlabs`` (markdown pages whose line
breaks were lost), ``wavespeed`` (a rendered page) and ``apikley`` (a page
embedding OpenAPI 3.0 YAML). Pure: no web framework or HTTP client imports.
"""

from __future__ import annotations

from mockserver.derive.common import DeriveError, SourceDocument, dump_contract

__all__ = ["DeriveError", "SourceDocument", "dump_contract"]
