"""The WSGI application for gunicorn."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "headway.site.settings")
os.environ.setdefault("HEADWAY_MODE", "production")
application = get_wsgi_application()
