"""Text VOLT did not write itself (an exchange's or a model's words, an event, a halt's
cause) shown as written: Streamlit renders markdown in most elements, and a remote party's
`![x](http://...)` would make the trader's browser fetch their address."""

import re

_MARKDOWN = re.compile(r"([\\`*_\[\]<>|~$])")
_LINE_START = re.compile(r"^(\s*)([#+=-])", re.MULTILINE)  # a heading, a list, a rule
# Markdown links a bare address by itself: a zero-width space after ":" in "://" and in "www." keeps
# a model's or an exchange's text from becoming a link (after "://" was not enough: a
# widget label's renderer still linked "http://\u200bhost").
_ADDRESS = re.compile(r"(:)(//)|(www)(\.)", re.IGNORECASE)


def plain(text: str) -> str:
    """Text shown as written: no markdown (headings, lists, links, images), no auto-linked
    address and no LaTeX from a `$` in a model's reply."""
    text = _LINE_START.sub(r"\1\\\2", _MARKDOWN.sub(r"\\\1", str(text)))
    return _ADDRESS.sub(lambda m: "\u200b".join(g for g in m.groups() if g), text)
