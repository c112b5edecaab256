"""The REST API on `$STATE/api.sock` (RootlessKit API 1.1.x): what server and clients share.

Wire format as Go's encoding/json writes it, because scripts compare our output with upstream's:
compact separators, and `<`, `>`, `&` escaped as \\u003c, \\u003e, \\u0026.
"""

from __future__ import annotations

_GO_HTML_ESCAPES = {ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026"}


def go_json(value: object, indent: str = "") -> str:
    """`json.Marshal` (or `json.MarshalIndent(v, "", indent)`) of a JSON-ready value.

    json is imported here, at the first answer, not with the server: it pulls in re and enum
    (~5 ms), which rootlesskit would otherwise pay on every start before its command runs."""
    import json

    if indent:
        text = json.dumps(value, indent=indent, ensure_ascii=False)
    else:
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text.translate(_GO_HTML_ESCAPES).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
