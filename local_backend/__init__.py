"""The bundled local Transformer backend: model loading, continuous-batching scheduler, scoring.

Importing this package is cheap; torch and transformers load only when an engine is created.
Entry points: ``local_backend.engine.LocalEngine``, ``local_backend.scheduler.BatchScheduler``,
``local_backend.protocol`` (requests, events, errors) and ``local_backend.scoring``.
"""
