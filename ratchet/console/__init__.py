"""The Ratchet console: a server-rendered web app (FastAPI, Jinja2, htmx) on its own listener.

Layout: app.py (the app factory and its state), security.py (the guard every request passes),
sessions.py (login, cookies, CSRF tokens), templating.py (Jinja2 and its filters), server.py
(the listener), routes/ (one router per resource), templates/ (pages; templates/partials/ are
shared fragments), static/ (CSS, JS and vendored htmx; see static/README.md).
"""
