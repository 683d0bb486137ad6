"""The web page on http://127.0.0.1:7860: ``python app.py`` (``qa serve`` does the same, with flags).

Importing this file builds nothing; the page itself is ``qa.web.page.build_demo``.
"""

from qa.assistant import Assistant
from qa.web.page import build_demo
from qa.web.serving import launch_options, warm_up

if __name__ == "__main__":
    assistant = Assistant()
    warm_up(assistant)
    build_demo(assistant).launch(**launch_options())
