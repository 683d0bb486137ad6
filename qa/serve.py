"""``qa serve``: load ``app.py`` from the repository root and start the web page.

``app.py`` stays a plain Gradio script (``python app.py`` works too); this module only finds it,
hands it the CLI's settings, loads the assistant before the port opens (so a missing model or a
damaged index is one clear CLI error, not a broken page), and launches it.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from types import ModuleType

from qa.errors import QAError
from qa.settings import REPO_ROOT, Settings

__all__ = ["load_app", "cli_serve"]


def load_app() -> ModuleType:
    """The ``app`` module from ``REPO_ROOT / "app.py"`` (the same module object if already loaded)."""
    path = REPO_ROOT / "app.py"
    loaded = sys.modules.get("app")
    if loaded is not None and getattr(loaded, "__file__", None) == str(path):
        return loaded
    spec = importlib.util.spec_from_file_location("app", path)
    if spec is None or spec.loader is None or not path.is_file():
        raise QAError(f"找不到网页程序 {path};请在代码仓库中运行 qa serve。")
    module = importlib.util.module_from_spec(spec)
    sys.modules["app"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop("app", None)
        raise
    return module


def cli_serve(args: argparse.Namespace, settings: Settings) -> int:
    app = load_app()
    app.configure(settings=settings)
    print("正在加载模型和索引……", file=sys.stderr, flush=True)
    # One question before the port opens: jieba builds its dictionary (~0.4 s) and the model's
    # pages load now, instead of on the first visitor's question.
    app.get_assistant().ask("城市管理精细化")
    demo = app.build_demo(settings)
    print(f"问答助手:http://{args.host}:{args.port}  (Ctrl+C 停止)", file=sys.stderr, flush=True)
    # quiet: gradio would suggest share=True, which this assistant never uses; the line above says where it is.
    demo.launch(**app.launch_options(host=args.host, port=args.port, quiet=True))
    return 0
