"""Google Cloud helpers for the Vertex AI provider: settings, URLs, auth, payloads, errors."""
