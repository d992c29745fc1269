"""Uploaded ledger files stay in memory: Django would otherwise spool uploads over 2.5 MB to a temporary file
on disk. At most the import limit plus one byte is kept, so the importer sees the true size and refuses an
oversized file by name."""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from typing import Any

from django.core.files.uploadedfile import InMemoryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http import HttpRequest, HttpResponse

from . import importer


class InMemoryCappedUpload(FileUploadHandler):
    """Keeps an uploaded ledger file in memory instead of Django's temporary file on disk, and keeps no more
    than the import limit plus one byte: the importer then sees the true size and refuses it by name."""

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.limit = importer.max_bytes()
        self.buffer = io.BytesIO()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes | None:
        room = self.limit + 1 - self.buffer.tell()
        if room > 0:
            self.buffer.write(raw_data[:room])
        return None

    def file_complete(self, file_size: int) -> InMemoryUploadedFile:
        self.buffer.seek(0)
        return InMemoryUploadedFile(
            file=self.buffer,
            field_name=self.field_name,
            name=self.file_name,
            content_type=self.content_type,
            size=file_size,
            charset=self.charset,
            content_type_extra=self.content_type_extra,
        )


def upload_in_memory(run: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Install ``InMemoryCappedUpload`` before django-ninja reads the multipart body."""

    @functools.wraps(run)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        request.upload_handlers = [InMemoryCappedUpload(request)]
        return run(request, *args, **kwargs)

    return wrapper
