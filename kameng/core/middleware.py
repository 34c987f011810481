"""Request hygiene shared by pages and the API."""

from urllib.parse import unquote_to_bytes

from django.http import JsonResponse


class RejectNulCharacters:
    """A NUL character can never be stored (PostgreSQL text refuses it), so a request carrying one in its path,
    query string or form fields is answered 400 before any view sees it, instead of failing halfway as a 500.
    JSON bodies are checked by the API's parser (kameng.core.api.StrictJsonParser)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if self._has_nul(request):
            return JsonResponse(
                {"error": {"code": "nul_character", "message": "the request contains a NUL character"}},
                status=400,
            )
        return self.get_response(request)

    @staticmethod
    def _has_nul(request) -> bool:
        if "\x00" in request.path or b"\x00" in unquote_to_bytes(request.META.get("QUERY_STRING", "")):
            return True
        if request.method != "POST":
            return False
        if request.content_type == "application/x-www-form-urlencoded":
            return b"\x00" in unquote_to_bytes(request.body.replace(b"+", b" "))
        if request.content_type == "multipart/form-data":
            return any("\x00" in value for values in request.POST.lists() for value in values[1])
        return False
