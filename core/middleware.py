from django.conf import settings
from django.http import HttpResponse, JsonResponse
from django.utils import translation
from django.utils.html import escape
from django.utils.http import url_has_allowed_host_and_scheme

from core.exceptions import TooLarge


class SpanishFirstLocaleMiddleware:
    """Spanish (es-PE) unless the user chose another language with the switcher.

    Django's LocaleMiddleware would follow the browser's Accept-Language, and many office computers in Peru
    run English-language browsers; planners expect the platform in Spanish until they ask otherwise.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.supported = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request):
        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME, "")
        language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response


class RequestTooLargeMiddleware:
    """Refuse a request whose declared body is larger than an upload may be (the upload limit plus 64 KB for the
    other form fields) before anything reads it: the CSRF check would otherwise parse, and spool to disk, the
    whole multipart body of a page upload first. API clients get JSON, browsers a short page in their language."""

    FORM_FIELDS_ALLOWANCE = 64 * 1024

    def __init__(self, get_response):
        from datasets.services.uploads import check_upload_size  # the one upload limit, with its message

        self.get_response = get_response
        self.check_upload_size = check_upload_size

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH", "")
        if length.isdigit():
            try:
                self.check_upload_size(int(length) - self.FORM_FIELDS_ALLOWANCE)
            except TooLarge as exc:
                return self.refuse(request, exc)
        return self.get_response(request)

    def refuse(self, request, exc: TooLarge):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": exc.message, **exc.extra}, status=exc.status_code)
        referer = request.META.get("HTTP_REFERER") or "/"
        safe = url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure())
        back = escape(referer if safe else "/")
        page = (
            f'<!doctype html><html lang="{escape(request.LANGUAGE_CODE)}"><meta charset="utf-8">'
            f'<title>413</title><main style="font-family:sans-serif;max-width:40rem;margin:3rem auto">'
            f'<h1>413</h1><p>{escape(exc.message)}</p><p><a href="{back}">←</a></p></main></html>'
        )
        return HttpResponse(page, status=exc.status_code)
