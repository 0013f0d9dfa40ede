from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError
from rest_framework.parsers import DataAndFiles, MultiPartParser


class _NameKeepingParser(DjangoMultiPartParser):
    def sanitize_file_name(self, file_name):
        # Django quietly cuts a path down to its last part; we refuse it, so the client learns its mistake.
        if "/" in file_name or "\\" in file_name or file_name.strip() in {".", ".."}:
            raise MultiPartParserError(f"The file name must be a plain name, without folders: {file_name[:100]}")
        return super().sanitize_file_name(file_name)


class StrictMultiPartParser(MultiPartParser):
    """Multipart uploads whose file name carries a path are refused with a 400 that says so."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        try:
            parser = _NameKeepingParser(meta, stream, request.upload_handlers, parser_context.get("encoding", "utf-8"))
            data, files = parser.parse()
        except MultiPartParserError as exc:
            raise ParseError(str(exc))
        return DataAndFiles(data, files)
