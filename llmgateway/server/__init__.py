"""The drop-in OpenAI-compatible proxy: an ASGI app factory (Starlette) over a Gateway, with
virtual keys, an admin API, Prometheus metrics and a dashboard. Starlette and uvicorn are
imported only here, never by the SDK core."""
