"""The pages' style sheet and icons, inlined into every page so that a page is one round trip.

On a slow connection each extra request costs a whole round trip before the first paint (the style
sheet blocks rendering), and the style sheet and the icons together are under 2 KB compressed: cheaper
to send again with every page than to wait for. The sources stay as files in `static/`.

>>> "<symbol id=\\"i-book\\"" in ICON_SPRITE and ICON_SPRITE.startswith("<svg hidden")
True
>>> FAVICON.startswith("data:image/svg+xml,")
True
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

STATIC = Path(__file__).parent / "static"


def _sprite(svg: str) -> str:
    """The icon symbols as a hidden inline SVG that `<use href="#name">` refers to."""
    return svg.replace('<svg xmlns="http://www.w3.org/2000/svg">', '<svg hidden xmlns="http://www.w3.org/2000/svg" style="display:none">', 1).strip()


STYLE_SHEET = Markup((STATIC / "tutor.css").read_text(encoding="utf-8").strip())
ICON_SPRITE = Markup(_sprite((STATIC / "icons.svg").read_text(encoding="utf-8")))
FAVICON = "data:image/svg+xml," + quote((STATIC / "icon.svg").read_text(encoding="utf-8").strip(), safe=" /:=\"#")
