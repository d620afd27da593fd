"""The one page shell (``static/index.html``) and its assets, shipped in the package."""

from __future__ import annotations

from importlib import resources

STATIC_FILES = {"app.js": "text/javascript", "app.css": "text/css"}
DATA_MARKER = '<script id="vlmforge-data" type="application/json">null</script>'
CSS_LINK = '<link rel="stylesheet" href="/static/app.css">'
JS_TAG = '<script src="/static/app.js"></script>'


def asset(name: str) -> str:
    """A file of ``static/`` as text."""
    return (resources.files("vlmforge_view") / "static" / name).read_text(encoding="utf-8")


def shell() -> str:
    """The page every route serves; the script routes on the URL."""
    return asset("index.html")


def inline_json(text: str) -> str:
    """JSON text safe inside ``<script>``: every ``<`` (only ever inside a JSON string) is
    written ``\\u003c``, so no ``</script>`` or ``<!--`` in the data can end or open a block."""
    return text.replace("<", "\\u003c")


def inline_script(text: str) -> str:
    """Script text safe inside ``<script>``: ``</`` becomes ``<\\/`` (the same string to JS)."""
    if "<!--" in text:
        raise ValueError("a script to inline must not contain '<!--'")
    return text.replace("</", "<\\/")
