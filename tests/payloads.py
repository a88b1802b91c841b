"""Request payloads shared by tests."""

USER = [{"role": "user", "content": "What is the capital of France?"}]
