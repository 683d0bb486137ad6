"""The web layer: the Gradio page (``page``), its HTML cards (``cards``), the feedback log
(``feedback``), the REST API under ``/api/v1`` (``api``: its models in ``schemas``, its errors in
``api_errors``, answering with bounded concurrency and a cache in ``answers``), the guards in front
of both (``guards``, ``gradio_routes``) and ``qa serve`` (``serving``, ``replicas``).

Nothing is imported here, so the feedback log or the cards load without gradio.
"""

__all__ = [
    "answers",
    "api",
    "api_errors",
    "cards",
    "feedback",
    "gradio_routes",
    "guards",
    "page",
    "replicas",
    "schemas",
    "serving",
]
