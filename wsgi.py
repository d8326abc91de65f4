"""The WSGI entry point: `gunicorn wsgi:app` (see config/gunicorn.conf.py)."""

from portal import create_app

app = create_app()
