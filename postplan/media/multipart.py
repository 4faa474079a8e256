"""The `file` field of a multipart/form-data body, as a stream of chunks.

python-multipart's push parser is fed the request body as it arrives (Starlette's
`request.stream()`); the `file` part's data is handed on chunk by chunk, never collected.
Other fields are skipped (at most `OTHER_FIELDS_MAX` bytes of them, so a body of junk fields
cannot be used to hold the connection forever without counting against any limit)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import Request

from postplan.media.errors import BadUpload

FIELD = "file"
OTHER_FIELDS_MAX = 64 << 10
#: Parts a form may have, `file` included (the OpenAPI document's `maxProperties`).
PARTS_MAX = 8


def boundary_of(content_type: str | None) -> bytes:
    """The boundary parameter of a multipart/form-data content type, or 422."""
    ctype, params = parse_options_header(content_type or "")
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise BadUpload("send the file as multipart/form-data in a field named `file`",
                        status_code=415, code="unsupported_media_type")
    return boundary


class FilePart:
    """The upload's file part: `await open()` reads up to its headers (its filename); then
    `chunks()` yields its data as the body streams in."""

    def __init__(self, request: Request) -> None:
        self._body = request.stream().__aiter__()
        self._pending: list[bytes] = []
        self._fields: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._in_file = False
        self._seen_file = False
        self._file_done = False
        self._ended = False
        self._other = 0
        self._parts = 0
        self.filename: str | None = None
        self._parser = MultipartParser(boundary_of(request.headers.get("content-type")), {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_value,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        })

    # -- parser callbacks --------------------------------------------------------------------

    def _part_begin(self) -> None:
        self._fields = {}
        # Counted as parts are parsed: a part after the file that arrives in a later chunk
        # than the file's end is not read (the upload is complete by then).
        self._parts += 1
        if self._parts > PARTS_MAX:
            raise BadUpload(f"a form may have at most {PARTS_MAX} fields")

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._fields[self._field.lower()] = self._value
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._fields.get(b"content-disposition", b""))
        if params.get(b"name") == FIELD.encode() and not self._seen_file:
            self._in_file = self._seen_file = True
            raw = params.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self._pending.append(data[start:end])
            return
        self._other += end - start
        if self._other > OTHER_FIELDS_MAX:
            raise BadUpload(f"fields other than `{FIELD}` may hold {OTHER_FIELDS_MAX} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            self._file_done = True

    # -- reading -----------------------------------------------------------------------------

    async def _feed(self) -> None:
        try:
            chunk = await self._body.__anext__()
        except StopAsyncIteration:
            self._ended = True
            try:
                self._parser.finalize()
            except MultipartParseError as exc:
                raise BadUpload("the multipart body is malformed") from exc
            return
        try:
            self._parser.write(chunk)
        except MultipartParseError as exc:
            raise BadUpload("the multipart body is malformed") from exc

    async def open(self) -> str | None:
        """Read until the file part's headers; 422 when the body has no `file` field."""
        while not self._seen_file and not self._ended:
            await self._feed()
        if not self._seen_file:
            raise BadUpload(f"the form has no `{FIELD}` field")
        return self.filename

    async def chunks(self) -> AsyncIterator[bytes]:
        """The file's bytes as they arrive; 422 when the body ends inside the file."""
        while True:
            while self._pending:
                yield self._pending.pop(0)
            if self._file_done:
                return
            if self._ended:
                raise BadUpload("the body ended before the file's closing boundary")
            await self._feed()
