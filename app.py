"""WSGI entry point: `app` is the Swatch Flask application (flask --app app run, or waitress/gunicorn app:app)."""

from swatch.web import create_app

app = create_app()
