"""A cap on uploaded files while they arrive, not after: a file over the limit is not
written to disk in full before it is refused.

Django writes an upload to a temporary file as it streams in, and only then does a form
or an API endpoint see its size. `UploadLimitMiddleware` puts `LimitedUpload` first among
the request's upload handlers, which stops reading the upload the moment it passes
HEADWAY_UPLOAD_MAX_BYTES and marks the request (`request.upload_too_large`), so that the
page or the API answers with the limit instead of "no file".
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.files.uploadhandler import FileUploadHandler, StopUpload
from django.http import HttpRequest, HttpResponse, JsonResponse

DEFAULT_UPLOAD_MAX_BYTES = 100 * 1024 * 1024
# Room for the multipart envelope (boundaries, headers, other fields) around the file.
MULTIPART_SLACK = 64 * 1024


def upload_limit() -> int:
    """The largest file a web page or the API takes, in bytes."""
    return int(getattr(settings, "HEADWAY_UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES))


class LimitedUpload(FileUploadHandler):
    """Passes chunks on to the next handler until the files of the request pass the limit."""

    def __init__(self, request: HttpRequest, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.received = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = self.limit  # type: ignore[union-attr]
            raise StopUpload(connection_reset=False)
        return raw_data

    def file_complete(self, file_size: int) -> Any:
        # The next handler (memory or temporary file) makes the file.
        return None


class UploadLimitMiddleware:
    """Installs LimitedUpload on every request that may carry files (before CSRF reads
    the request's body)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.content_type == "multipart/form-data":
            limit = upload_limit()
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            api = request.path.startswith("/api/")
            if api and length > limit + MULTIPART_SLACK:
                # An API client said how big its upload is: refuse it before reading it.
                return _too_large(
                    f"the upload is {length:,} bytes; files of up to {limit:,} bytes are taken"
                )
            request.upload_handlers.insert(0, LimitedUpload(request, limit))
            response = self.get_response(request)
            if api and upload_too_large(request) is not None:
                # Stopped while it arrived (no length said, or one within the slack): the
                # endpoint's own validation only saw that the file was missing.
                return _too_large(
                    f"the upload is larger than {limit:,} bytes; files of up to {limit:,} bytes "
                    "are taken"
                )
            return response
        return self.get_response(request)


def _too_large(detail: str) -> JsonResponse:
    return JsonResponse({"detail": detail, "errors": []}, status=413)


def upload_too_large(request: HttpRequest) -> int | None:
    """The limit an upload of the request passed (then its files were dropped), or None."""
    limit = getattr(request, "upload_too_large", None)
    return int(limit) if limit is not None else None
