import os

from django.core.wsgi import get_wsgi_application

from config import instance

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
instance.prepare()  # gunicorn's entry point: the instance folder is ready before the settings are read
application = get_wsgi_application()
