from django.conf import settings


def site(request):
    return {"KAMENG_SANDBOX": settings.KAMENG_SANDBOX}
