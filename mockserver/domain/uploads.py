"""Files clients upload before they create a job (WaveSpeed's media uploads), kept in memory.

A real upload returns a URL the client then passes as a model input. The
mock keeps the bytes so that URL can be fetched back from the mock, offline.
The store is bounded by a count and by total bytes (oldest uploads go first)
so a mock left running for a day does not grow without limit.

With a shared store (Redis), :class:`SharedUploadStore` keeps the files
there under the same bounds, so a file uploaded through one worker is served,
and accepted as a create's input URL, by every worker.
"""

from __future__ import annotations

import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass
from typing import Protocol

from mockserver.store.interface import StoredUpload

__all__ = ["DEFAULT_MAX_UPLOADS", "DEFAULT_MAX_UPLOAD_BYTES", "UPLOADS_PATH",
           "SharedUploadStore", "Upload", "UploadError", "UploadStore"]

#: Path prefix of uploaded files on the mock (any origin serves it).
UPLOADS_PATH = "/_mock/uploads"

#: At most this many uploads are kept; the oldest are forgotten first.
DEFAULT_MAX_UPLOADS = 1000
#: At most this many bytes, all uploads together; also the largest one upload.
DEFAULT_MAX_UPLOAD_BYTES = 128 * 1024 * 1024


class UploadError(Exception):
    """An upload the store refuses; ``status`` is the HTTP code to answer with."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Upload:
    """One upload: announced by a ticket (``data`` None until its PUT) or complete."""

    token: str
    filename: str
    content_type: str
    declared_size: int | None
    data: bytes | None = None
    #: Bytes received, for an upload listed from a shared store without its bytes.
    stored_size: int | None = None

    @property
    def size(self) -> int:
        """Bytes received, else the size the ticket announced (0 if none)."""
        if self.data is not None:
            return len(self.data)
        if self.stored_size is not None:
            return self.stored_size
        return self.declared_size or 0

    @property
    def complete(self) -> bool:
        """Its bytes arrived."""
        return self.data is not None or self.stored_size is not None


class UploadStore:
    """Uploads by token, bounded in count and bytes; the oldest are evicted first."""

    def __init__(
        self, *, max_uploads: int = DEFAULT_MAX_UPLOADS,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        if max_uploads < 1 or max_bytes < 1:
            raise ValueError("max_uploads and max_bytes must be positive")
        self.max_uploads = max_uploads
        self.max_bytes = max_bytes
        self._uploads: OrderedDict[str, Upload] = OrderedDict()
        self._bytes = 0

    def __len__(self) -> int:
        return len(self._uploads)

    @property
    def stored_bytes(self) -> int:
        """Bytes held by complete uploads."""
        return self._bytes

    def announce(self, filename: str, content_type: str, size: int | None) -> Upload:
        """A ticket for a file that will follow by :meth:`receive` (the two-step upload).

        The announced size is not checked against ``max_bytes``: the provider
        takes it, and only the bytes themselves can be over the mock's limit.
        """
        upload = Upload(secrets.token_hex(16), filename, content_type, size)
        self._uploads[upload.token] = upload
        self._evict()
        return upload

    def receive(self, token: str, data: bytes) -> Upload:
        """The bytes of an announced upload (a second PUT replaces the first, as on S3)."""
        upload = self._uploads.get(token)
        if upload is None:
            raise UploadError(404, f"no upload {token!r} (unknown, or evicted)")
        if len(data) > self.max_bytes:
            raise UploadError(413, f"file of {len(data)} bytes is over the mock's limit "
                                   f"of {self.max_bytes} bytes")
        if upload.data is not None:
            self._bytes -= len(upload.data)
        upload.data = data
        self._bytes += len(data)
        self._uploads.move_to_end(token)
        self._evict(keep=token)
        return upload

    def add(self, filename: str, content_type: str, data: bytes) -> Upload:
        """A complete upload in one step (the multipart upload)."""
        upload = self.announce(filename, content_type, len(data))
        return self.receive(upload.token, data)

    def uploads(self) -> list[Upload]:
        """Every upload kept, oldest first."""
        return list(self._uploads.values())

    def get(self, token: str) -> Upload | None:
        """The upload ``token`` names, complete or not; None when unknown or evicted."""
        return self._uploads.get(token)

    def serves(self, url: str) -> bool:
        """``url`` is the download URL of a complete upload in this store, on any origin.

        Such a URL stands for the provider's CDN URL of the file, which a real
        create accepts as a file input although the mock's is local HTTP.
        """
        token = _upload_token(url)
        if token is None:
            return False
        upload = self._uploads.get(token)
        return upload is not None and upload.data is not None

    def clear(self) -> None:
        """Forget every upload."""
        self._uploads.clear()
        self._bytes = 0

    def _evict(self, keep: str | None = None) -> None:
        while self._uploads and (
            len(self._uploads) > self.max_uploads or self._bytes > self.max_bytes
        ):
            token, oldest = next(iter(self._uploads.items()))
            if token == keep:
                break  # the newest upload alone is within max_bytes (checked above)
            del self._uploads[token]
            if oldest.data is not None:
                self._bytes -= len(oldest.data)


def _upload_token(url: str) -> str | None:
    """The token of an upload's download URL on any origin; None for another URL."""
    _, found, rest = url.partition(UPLOADS_PATH + "/")
    return rest.split("/", 1)[0] if found else None


class UploadBackend(Protocol):
    """What :class:`SharedUploadStore` needs of a shared store (RedisStore has it)."""

    def put_upload(self, token: str, meta: bytes, data: bytes | None) -> list[str]: ...

    def upload(self, token: str) -> StoredUpload | None: ...

    def upload_size(self, token: str) -> int | None: ...

    def uploads_meta(self) -> list[tuple[str, bytes, int | None]]: ...

    def upload_count(self) -> int: ...

    def upload_bytes(self) -> int: ...


class SharedUploadStore(UploadStore):
    """Uploads kept in a shared store: every worker serves every worker's files.

    The same operations and bounds as :class:`UploadStore` (the store evicts
    the oldest over the count or the bytes, atomically); a file's metadata
    is a small JSON document beside its bytes. Nothing is kept here.
    """

    def __init__(
        self, store: UploadBackend, *, max_uploads: int = DEFAULT_MAX_UPLOADS,
        max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    ) -> None:
        super().__init__(max_uploads=max_uploads, max_bytes=max_bytes)
        self.store = store

    def __len__(self) -> int:
        return self.store.upload_count()

    @property
    def stored_bytes(self) -> int:
        """Bytes held by complete uploads (every worker's)."""
        return self.store.upload_bytes()

    @staticmethod
    def _meta(upload: Upload) -> bytes:
        return json.dumps({"filename": upload.filename, "content_type": upload.content_type,
                           "declared_size": upload.declared_size}).encode()

    @staticmethod
    def _decode(token: str, meta: bytes, data: bytes | None = None,
                stored_size: int | None = None) -> Upload:
        fields = json.loads(meta)
        return Upload(token, str(fields["filename"]), str(fields["content_type"]),
                      fields.get("declared_size"), data, stored_size)

    def announce(self, filename: str, content_type: str, size: int | None) -> Upload:
        """A ticket for a file that follows by :meth:`receive` (kept in the store)."""
        upload = Upload(secrets.token_hex(16), filename, content_type, size)
        self.store.put_upload(upload.token, self._meta(upload), None)
        return upload

    def receive(self, token: str, data: bytes) -> Upload:
        """The bytes of an announced upload (any worker's ticket)."""
        stored = self.store.upload(token)
        if stored is None:
            raise UploadError(404, f"no upload {token!r} (unknown, or evicted)")
        self._check_size(data)
        upload = self._decode(token, stored.meta, data)
        self.store.put_upload(token, stored.meta, data)
        return upload

    def add(self, filename: str, content_type: str, data: bytes) -> Upload:
        """A complete upload in one step (one round trip)."""
        self._check_size(data)
        upload = Upload(secrets.token_hex(16), filename, content_type, len(data), data)
        self.store.put_upload(upload.token, self._meta(upload), data)
        return upload

    def _check_size(self, data: bytes) -> None:
        if len(data) > self.max_bytes:
            raise UploadError(413, f"file of {len(data)} bytes is over the mock's limit "
                                   f"of {self.max_bytes} bytes")

    def uploads(self) -> list[Upload]:
        """Every upload kept (every worker's), oldest first, without their bytes."""
        return [self._decode(token, meta, stored_size=size)
                for token, meta, size in self.store.uploads_meta()]

    def get(self, token: str) -> Upload | None:
        """The upload with its bytes (None before they arrive); None when unknown."""
        stored = self.store.upload(token)
        return None if stored is None else self._decode(token, stored.meta, stored.data)

    def serves(self, url: str) -> bool:
        """``url`` is the download URL of a complete upload in the store (any worker's)."""
        token = _upload_token(url)
        return token is not None and self.store.upload_size(token) is not None

    def clear(self) -> None:
        """Nothing here: the store's reset (``World.reset``) forgets every worker's files."""
