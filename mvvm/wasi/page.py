"""`mvvm wasm --html`: a page that runs the module in a browser and shows its output.

Self-contained: the module is in the page (gzip, then base64: a quarter of its size; the
browser's DecompressionStream unpacks it), with a small WASI of its own in
JavaScript (arguments from the URL's `?args=` or a text box, stdout and stderr into the
page, no files), so it works opened from disk, where a browser will not fetch a file
beside it.
"""

from __future__ import annotations

import base64
import gzip
import html
import json
from pathlib import Path

TEMPLATE = Path(__file__).with_name("page.html")


def page(wasm: bytes, program: str, args: str = "") -> str:
    """The page for a module; program is argv[0], args the initial arguments."""
    def js(text: str) -> str:
        return json.dumps(text)[1:-1].replace("</", "<\\/")

    return TEMPLATE.read_text().format(title=html.escape(program),
                                       module=base64.b64encode(gzip.compress(wasm, mtime=0)
                                                               ).decode(),
                                       program=js(program), args=js(args))
