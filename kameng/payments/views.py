from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kameng.core.client import client_ip
from kameng.payments import selectors, services


@csrf_exempt  # channels sign their notifications; the signature is the check, not a cookie
@require_POST
def notify(request, channel: str, endpoint: str = ""):
    if channel not in selectors.channel_names() or not services.has_endpoint(channel, endpoint):
        raise Http404("unknown channel")
    # The client's address beside the raw headers: behind the proxy REMOTE_ADDR is the proxy's own.
    headers = {**request.META, services.CLIENT_ADDRESS_KEY: client_ip(request) or ""}
    reply = services.process_notification(
        channel=channel, headers=headers, body=request.body, endpoint=endpoint
    )
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
