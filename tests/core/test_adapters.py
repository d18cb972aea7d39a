"""The generic-json and content-hub adapters: seed 002's examples, real-looking content-hub HTML,
and every payload problem with the path seed 002's errors[] would give."""

import copy

import pytest

from kbsync_core.errors import KbsyncError
from kbsync_core.ingestion.adapters import (
    PayloadInvalidError,
    UnknownAdapterError,
    adapter,
    adapters,
    read_content_hub,
    read_generic_json,
    read_payload,
)
from kbsync_core.ingestion.documents import RecordProblem

# Seed 002's Quick Start records, as given.
SEED_RECORDS = {
    "records": [
        {
            "id": "doc-123",
            "title": "Product Documentation",
            "content": "This is the main content of the document...",
            "contentType": "markdown",
            "metadata": {"author": "John Doe", "category": "technical", "version": "1.0"},
            "url": "https://example.com/docs/product",
            "tags": ["documentation", "product", "technical"],
        },
        {
            "id": "doc-456",
            "title": "API Reference",
            "content": "Complete API reference documentation...",
            "contentType": "markdown",
            "metadata": {"author": "Jane Smith", "category": "api"},
            "tags": ["api", "reference"],
        },
    ]
}

# Seed 002's content-hub input format, as given.
SEED_CONTENT_HUB = [
    [
        {
            "content": {
                "documentIdentifier": "Page://content/acme/resource-center/article-123",
                "parseImage": False,
                "deleted": False,
                "inlineContent": {
                    "textContent": {"data": "<h1>Title</h1><p>Content...</p>"},
                    "type": "TEXT",
                },
            },
            "metadata": {
                "inlineAttributes": [
                    {"key": "Title", "value": {"stringValue": "Article Title", "type": "STRING"}},
                    {
                        "key": "keywords",
                        "value": {"stringValue": "business,enterprise", "type": "STRING"},
                    },
                ]
            },
        }
    ],
    {"timeTaken": "250ms"},
]

# What a CMS page looks like in an export: entities, nested tags, a table without <thead>, a
# pipe inside a cell, nested lists, links with query strings, a script that is no text.
ARTICLE_HTML = (
    '<div class="article"><h1>Caf&eacute; &amp; Bar <small>opening&nbsp;hours</small></h1>\n'
    "<p>Welcome to the <strong>Caf&eacute;</strong>&nbsp;&mdash; read the "
    '<a href="https://example.com/menu?lang=en&amp;v=2">full <em>menu</em></a>.</p>\n'
    "<h2>Hours</h2>\n"
    "<table><tr><td>Day</td><td>Open</td></tr>"
    "<tr><td>Mon&ndash;Fri</td><td>8:00 | 18:00</td></tr>"
    "<tr><td>Sat</td><td><span><b>closed</b></span></td></tr></table>\n"
    "<h3>What we serve</h3>\n"
    "<ul><li>Coffee<ul><li>Espresso</li><li>Caf&eacute; con leche</li></ul></li>"
    "<li>Tea &lt;green&gt;</li></ul>\n"
    "<ol><li>Order</li><li>Pay</li></ol>\n"
    "<script>trackPageView('x')</script><style>p { color: red }</style>"
    "<p>Questions? <a href='mailto:hola@example.com'>Write to us</a>.</p></div>"
)

ARTICLE_MARKDOWN = """# Café & Bar opening hours

Welcome to the **Café** — read the [full *menu*](https://example.com/menu?lang=en&v=2).

## Hours

| Day | Open |
| --- | --- |
| Mon–Fri | 8:00 \\| 18:00 |
| Sat | **closed** |

### What we serve

- Coffee
  - Espresso
  - Café con leche
- Tea <green>

1. Order
2. Pay

Questions? [Write to us](mailto:hola@example.com)."""


def hub_item(identifier="Page://a", html="<p>Text</p>", attributes=(), **content) -> dict:
    return {
        "content": {
            "documentIdentifier": identifier,
            "inlineContent": {"textContent": {"data": html}, "type": "TEXT"},
            **content,
        },
        "metadata": {"inlineAttributes": list(attributes)},
    }


def attribute(key, kind, value) -> dict:
    field = {
        "STRING": "stringValue",
        "NUMBER": "numberValue",
        "BOOLEAN": "booleanValue",
        "STRING_LIST": "stringListValue",
    }[kind]
    return {"key": key, "value": {"type": kind, field: value}}


def record(**fields) -> dict:
    return {"id": "doc-1", "content": "Some text", **fields}


def problems_of(data, read=read_generic_json) -> list[tuple[str, str]]:
    _, problems = read(data)
    return [(problem.path, problem.message) for problem in problems]


# The registry


def test_the_adapters_are_the_seeds_with_name_format_and_version():
    assert [(a.name, a.format, a.version) for a in adapters()] == [
        ("generic-json", "json", "1.0.0"),
        ("content-hub", "content-hub-json", "1.0.0"),
    ]
    assert adapter("content-hub").read is read_content_hub


@pytest.mark.parametrize("name", ["invalid-adapter", "", None, "Generic-JSON"])
def test_an_unknown_adapter_is_refused_with_the_seeds_message(name):
    with pytest.raises(UnknownAdapterError) as refused:
        adapter(name)
    assert isinstance(refused.value, KbsyncError)
    assert str(refused.value) == f"Unknown adapter: {name}"


def test_read_payload_refuses_with_every_problem():
    data = {"records": [{"id": "", "content": "x"}, {"id": "b"}]}
    with pytest.raises(PayloadInvalidError) as refused:
        read_payload("generic-json", data)
    assert str(refused.value) == "Payload validation failed"
    assert refused.value.problems == [
        RecordProblem("data.records[0].id", "must not be empty"),
        RecordProblem("data.records[1].content", "is required"),
    ]
    assert [d.id for d in read_payload("generic-json", SEED_RECORDS)] == ["doc-123", "doc-456"]


# generic-json


def test_the_seeds_generic_records_become_documents():
    documents, problems = read_generic_json(SEED_RECORDS)
    assert problems == []
    first, second = documents
    assert first.id == "doc-123"
    assert first.title == "Product Documentation"
    assert first.content == "This is the main content of the document..."
    assert first.content_type == "markdown"
    assert first.metadata == {"author": "John Doe", "category": "technical", "version": "1.0"}
    assert first.url == "https://example.com/docs/product"
    assert first.tags == ("documentation", "product", "technical")
    assert (first.deleted, first.problems) == (False, ())
    assert (second.url, second.tags) == (None, ("api", "reference"))


@pytest.mark.parametrize(
    ("content", "content_type", "title"),
    [
        ("Intro line\n\n## Setup _guide_\nmore", "markdown", "Setup guide"),
        ("\n\n  **Bold** first [line](https://x.io) \nsecond", "markdown", "Bold first line"),
        ("# comment, not a heading\nprint(1)", "code", "# comment, not a heading"),
        ("Q: How do I reset it?\nA: Hold the button.", "qa_pair", "Q: How do I reset it?"),
        ("word " * 40, "text", ("word " * 19).strip() + "…"),
    ],
)
def test_a_record_without_title_gets_its_first_heading_or_first_line(content, content_type, title):
    [document], _ = read_generic_json(
        {"records": [record(content=content, contentType=content_type)]}
    )
    assert document.title == title
    assert len(document.title) <= 100


def test_a_record_is_content_as_given_and_deleted_needs_no_content():
    content = "  | a | b |\n\n```py\nx = 1\n```  "
    documents, problems = read_generic_json(
        {
            "records": [
                record(content=content, contentType="text"),
                {"id": "gone", "deleted": True},
                {"id": "gone-too", "deleted": True, "content": ""},
            ]
        }
    )
    assert problems == []
    kept, gone, gone_too = documents
    assert (kept.content, kept.content_type) == (content, "text")
    assert (gone.deleted, gone.content, gone_too.deleted) == (True, "", True)


def test_every_problem_of_a_generic_payload_is_listed_with_its_path():
    records = [
        {"title": "no id"},
        {"id": 7, "content": 8},
        {"id": "  ", "content": "   "},
        record(contentType="html", deleted="yes", title=3, url=["x"], tags="a,b", metadata=[1]),
        record(tags=["ok", 5]),
        "not an object",
        record(id="x" * 2049),
        record(content="bad \ud800 text"),
    ]
    assert problems_of({"records": records}) == [
        ("data.records[0].id", "is required"),
        ("data.records[0].content", "is required"),
        ("data.records[1].id", "must be a string"),
        ("data.records[1].content", "must be a string"),
        ("data.records[2].id", "must not be empty"),
        ("data.records[2].content", "must not be empty"),
        ("data.records[3].deleted", "must be true or false"),
        ("data.records[3].title", "must be a string"),
        ("data.records[3].url", "must be a string"),
        ("data.records[3].contentType", "must be one of text, markdown, code, qa_pair"),
        ("data.records[3].tags", "must be an array of strings"),
        ("data.records[3].metadata", "must be an object"),
        ("data.records[4].tags[1]", "must be a string"),
        ("data.records[5]", "must be an object"),
        (
            "data.records[6].id",
            "is 2,049 characters long: Bedrock's document ids hold at most 2,048",
        ),
        (
            "data.records[7].content",
            "is not valid text: it contains a lone surrogate or other code that is no character",
        ),
    ]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ([], [("data", "must be an object with a `records` array")]),
        ({}, [("data.records", "is required: an array of records")]),
        ({"records": {"id": "a"}}, [("data.records", "must be an array of records")]),
        ({"records": []}, [("data.records", "is empty: there is nothing to ingest")]),
    ],
)
def test_a_generic_payload_that_is_no_records_array_is_refused(data, expected):
    assert problems_of(data) == expected


def test_ids_colliding_within_a_job_are_refused_at_each_repeat():
    records = [record(id="a"), record(id="b"), record(id="a"), record(id="a")]
    assert problems_of({"records": records}) == [
        ("data.records[2].id", "repeats the id of data.records[0].id"),
        ("data.records[3].id", "repeats the id of data.records[0].id"),
    ]
    # Ids differ by case or spaces: Bedrock keeps them apart, so does kbsync.
    assert problems_of({"records": [record(id="a"), record(id="A"), record(id="a ")]}) == []


# content-hub


def test_the_seeds_content_hub_example_becomes_a_document():
    documents, problems = read_content_hub(copy.deepcopy(SEED_CONTENT_HUB))
    assert problems == []
    [document] = documents
    assert document.id == "Page://content/acme/resource-center/article-123"
    assert document.content == "# Title\n\nContent..."
    assert document.title == "Article Title"
    assert document.tags == ("business", "enterprise")
    assert document.metadata == {"Title": "Article Title", "keywords": "business,enterprise"}
    assert (document.content_type, document.deleted, document.problems) == ("markdown", False, ())


def test_content_hub_html_keeps_tables_lists_links_and_headings_as_markdown():
    [document], problems = read_content_hub([[hub_item(html=ARTICLE_HTML)], {"timeTaken": "1s"}])
    assert problems == []
    assert document.content == ARTICLE_MARKDOWN
    # No Title attribute: the first heading, as plain text.
    assert document.title == "Café & Bar opening hours"
    assert "trackPageView" not in document.content and "color" not in document.content


def test_content_hub_html_escaped_once_more_is_read_as_html():
    escaped = "&lt;h2&gt;Caf&amp;eacute; &amp;amp; T&amp;eacute;&lt;/h2&gt;&lt;p&gt;Hi&lt;/p&gt;"
    [document], _ = read_content_hub([[hub_item(html=escaped)]])
    assert document.content == "## Café & Té\n\nHi"
    # Text that shows a tag keeps it as text.
    [document], _ = read_content_hub([[hub_item(html="<p>Use &lt;br&gt; here</p>")]])
    assert document.content == "Use <br> here"


def test_content_hub_attributes_become_typed_metadata_tags_url_and_type():
    attributes = [
        attribute("keywords", "STRING", " pricing, billing ,,pricing"),
        attribute("customEntities", "STRING_LIST", ["Acme Pay", "billing"]),
        attribute("views", "NUMBER", 1234),
        attribute("rating", "NUMBER", 4.5),
        attribute("published", "BOOLEAN", True),
        attribute("regions", "STRING_LIST", ["EU", "US"]),
        attribute("_source_uri", "STRING", "https://acme.example/pricing"),
        attribute("contentType", "STRING", "qa_pair"),
    ]
    [document], problems = read_content_hub([[hub_item(attributes=attributes)]])
    assert problems == []
    assert document.tags == ("pricing", "billing", "Acme Pay")
    assert document.url == "https://acme.example/pricing"
    assert document.content_type == "qa_pair"
    assert document.metadata["views"] == 1234 and document.metadata["rating"] == 4.5
    assert document.metadata["published"] is True
    assert document.metadata["regions"] == ("EU", "US")
    # The title: no attribute and no heading, so the first line.
    assert document.title == "Text"


def test_a_deleted_content_hub_item_needs_no_content():
    item = {"content": {"documentIdentifier": "Page://gone", "deleted": True}}
    [document], problems = read_content_hub([[item], {"timeTaken": "3ms"}])
    assert problems == []
    assert (document.id, document.deleted, document.content) == ("Page://gone", True, "")


def test_every_problem_of_a_content_hub_payload_is_listed_with_its_path():
    page = [
        hub_item(identifier=""),
        {"content": {"inlineContent": {"textContent": {"data": 5}}}},
        hub_item(html="<p>&nbsp;</p><br><script>x()</script>", deleted="no"),
        "item",
        {"content": {"documentIdentifier": "Page://b", "inlineContent": {"type": "BYTE"}}},
        hub_item(
            identifier="Page://c",
            attributes=[
                attribute("n", "NUMBER", "12"),
                attribute("b", "BOOLEAN", 1),
                {"key": "t", "value": {"type": "DATE", "stringValue": "2024"}},
                {"key": "", "value": {"type": "STRING", "stringValue": "x"}},
                {"key": "v"},
                "x",
                attribute("n2", "NUMBER", True),
            ],
        ),
        hub_item(identifier="Page://a"),
        hub_item(identifier="Page://a"),
    ]
    attributes = "data[0][5].metadata.inlineAttributes"
    repeated = "data[0][6].content.documentIdentifier"
    assert problems_of([page, 7, {"timeTaken": "9ms"}], read_content_hub) == [
        ("data[0][0].content.documentIdentifier", "must not be empty"),
        ("data[0][1].content.documentIdentifier", "is required"),
        ("data[0][1].content.inlineContent.textContent.data", "must be a string of HTML"),
        ("data[0][2].content.deleted", "must be true or false"),
        ("data[0][2].content.inlineContent.textContent.data", "has no text once its HTML is read"),
        ("data[0][3]", "must be an object"),
        ("data[0][4].content.inlineContent.type", "must be TEXT: only text is read"),
        (f"{attributes}[0].value.numberValue", "is required for a NUMBER attribute"),
        (f"{attributes}[1].value.booleanValue", "is required for a BOOLEAN attribute"),
        (f"{attributes}[2].value.type", "must be one of STRING, NUMBER, BOOLEAN, STRING_LIST"),
        (f"{attributes}[3].key", "must be a non-empty string"),
        (f"{attributes}[4].value", "must be an object with a `type`"),
        (f"{attributes}[5]", "must be an object with `key` and `value`"),
        (f"{attributes}[6].value.numberValue", "is required for a NUMBER attribute"),
        ("data[0][7].content.documentIdentifier", f"repeats the id of {repeated}"),
        ("data[1]", "must be an array of items"),
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"records": []}, [("data", 'must be an array: [[item, ...], {"timeTaken"}]')]),
        ([], [("data", "has no items: there is nothing to ingest")]),
        ([[], {"timeTaken": "1ms"}], [("data", "has no items: there is nothing to ingest")]),
    ],
)
def test_a_content_hub_payload_that_is_no_nested_array_is_refused(data, expected):
    assert problems_of(data, read_content_hub) == expected


def test_content_hub_ids_collide_across_pages_too():
    data = [[hub_item(identifier="Page://x")], [hub_item(identifier="Page://x")]]
    assert problems_of(data, read_content_hub) == [
        (
            "data[1][0].content.documentIdentifier",
            "repeats the id of data[0][0].content.documentIdentifier",
        )
    ]
