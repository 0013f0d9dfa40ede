from django.conf import settings
from django.utils import translation


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
    """Refuse a request whose declared body is larger than an upload may be (MAX_UPLOAD_MB plus 64 KB for the
    other form fields) before anything reads it: the CSRF check would otherwise parse, and spool to disk, the
    whole multipart body of a page upload first. API clients get JSON, browsers a short page in their language."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        length = request.META.get("CONTENT_LENGTH", "")
        limit = settings.MAX_UPLOAD_MB * 1024 * 1024 + 64 * 1024
        if length.isdigit() and int(length) > limit:
            return self.refuse(request, int(length))
        return self.get_response(request)

    def refuse(self, request, length: int):
        from django.http import HttpResponse, JsonResponse
        from django.utils.html import escape
        from django.utils.http import url_has_allowed_host_and_scheme

        from datasets.services.uploads import file_problem_message
        from datasets.services.validation import FileProblem

        message = file_problem_message(
            FileProblem("too_large", size=round(length / 1024 / 1024, 1), limit=settings.MAX_UPLOAD_MB)
        )
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": message, "code": "too_large"}, status=413)
        referer = request.META.get("HTTP_REFERER") or "/"
        safe = url_has_allowed_host_and_scheme(referer, {request.get_host()}, require_https=request.is_secure())
        back = escape(referer if safe else "/")
        page = (
            f'<!doctype html><html lang="{escape(request.LANGUAGE_CODE)}"><meta charset="utf-8">'
            f'<title>413</title><main style="font-family:sans-serif;max-width:40rem;margin:3rem auto">'
            f'<h1>413</h1><p>{escape(message)}</p><p><a href="{back}">←</a></p></main></html>'
        )
        return HttpResponse(page, status=413)
