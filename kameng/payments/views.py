from django.http import Http404, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from kameng.payments import selectors, services


@csrf_exempt  # channels sign their notifications; the signature is the check, not a cookie
@require_POST
def notify(request, channel: str):
    if channel not in selectors.channel_names():
        raise Http404("unknown channel")
    reply = services.process_notification(channel=channel, headers=request.META, body=request.body)
    return HttpResponse(reply.body, status=reply.status, content_type=reply.content_type)
