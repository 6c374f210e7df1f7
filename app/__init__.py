"""User-facing entry points: the `specinpaint` CLI, the HTTP server and the web app."""
