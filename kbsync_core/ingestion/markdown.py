"""HTML to Markdown, and a title found in Markdown or text, for the adapters.

The conversion is markdownify's (maintained, MIT, on BeautifulSoup), not a hand-made one: its
parser decodes every HTML entity (`Caf&eacute;` is `Café`), and it keeps headings, lists (nested
too), links, emphasis, code blocks and tables as Markdown. kbsync adjusts three things:
- a `|` inside a table cell is escaped, or it would split the cell in two;
- a no-break space (`&nbsp;`) becomes a plain space: invisible in Markdown, it would only stop
  a keyword search from matching the words on either side;
- a table without a header row gets its first row as the header (a pipe table needs one).
`<script>` and `<style>` bodies are left out: they are no text a reader sees.
"""

import html
import re

from markdownify import ATX, MarkdownConverter

TITLE_MAX_LENGTH = 100

_BLANK_LINES = re.compile(r"\n{3,}")
_ATX_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)(?:[ \t]+#+)?[ \t]*$", re.MULTILINE)
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_LINE_MARKERS = re.compile(r"^(?:[#>]+|[-*+]|\d+[.)])\s+")
_EMPHASIS = re.compile(r"(?<!\\)[*_`]+")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")


class _KbsyncConverter(MarkdownConverter):
    def convert_td(self, el, text, parent_tags):
        return super().convert_td(el, text.replace("|", r"\|"), parent_tags)

    def convert_th(self, el, text, parent_tags):
        return super().convert_th(el, text.replace("|", r"\|"), parent_tags)


_CONVERTER = _KbsyncConverter(
    heading_style=ATX,
    bullets="-",
    table_infer_header=True,
    escape_misc=False,
)


def html_to_markdown(markup: str) -> str:
    """Markdown for an HTML fragment or page. HTML that arrives escaped as a whole (`&lt;p&gt;`
    and no `<` at all: some exports encode it once more) is decoded once before it is read."""
    if "<" not in markup and "&lt;" in markup:
        markup = html.unescape(markup)
    text = _CONVERTER.convert(markup).replace("\u00a0", " ")
    return _BLANK_LINES.sub("\n\n", text).strip()


def first_heading(markdown: str) -> str | None:
    """The text of the first `#` heading of a Markdown text, plain, or None."""
    match = _ATX_HEADING.search(markdown)
    if match is None:
        return None
    return _plain_line(match.group(1)) or None


def derive_title(content: str, content_type: str) -> str | None:
    """A title for a record that has none: the first heading of Markdown, else the first line
    with words in it, as plain text cut to TITLE_MAX_LENGTH characters at a word's end."""
    title = first_heading(content) if content_type == "markdown" else None
    if title is None:
        for line in content.splitlines():
            plain = _plain_line(line) if content_type == "markdown" else line.strip()
            if plain:
                title = plain
                break
    return _cut(title) if title else None


def _plain_line(line: str) -> str:
    line = _LINE_MARKERS.sub("", line.strip())
    line = _MARKDOWN_LINK.sub(r"\1", line)
    line = _EMPHASIS.sub("", line)
    return _ESCAPE.sub(r"\1", line).strip()


def _cut(text: str) -> str:
    text = " ".join(text.split())
    if len(text) <= TITLE_MAX_LENGTH:
        return text
    cut = text[: TITLE_MAX_LENGTH - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.-") + "…"
