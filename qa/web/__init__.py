"""The web layer: the Gradio page (``page``), its HTML cards (``cards``), the feedback log
(``feedback``) and ``qa serve`` (``serving``).

Nothing is imported here, so the feedback log or the cards load without gradio.
"""

__all__ = ["cards", "feedback", "page", "serving"]
