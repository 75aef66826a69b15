"""The Flask app and its gunicorn runner: the only place that imports Flask."""
