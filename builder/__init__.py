"""text2imu.builder: prompts -> motions -> bodies -> virtual IMUs -> corpora and releases.

``from text2imu.builder import load_corpus`` is resolved lazily (importing this package stays light).
"""

_LAZY = {"load_corpus": ("text2imu.builder.hub", "load_corpus")}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
