"""WSGI entry point for gunicorn: ``gunicorn bi_app.wsgi:server``."""
from bi_app import create_app

app = create_app()
server = app.server
