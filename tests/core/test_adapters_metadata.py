"""A document's metadata within Bedrock's limits (what does not fit is named, never dropped
silently), the shapes it travels in, checked against botocore's own model, and the content hash
that deduplication keys on."""

import json

import botocore.session
import pytest
from botocore.validate import ParamValidator

from kbsync_core.ingestion.adapters import read_content_hub, read_generic_json
from kbsync_core.ingestion.documents import Document
from kbsync_core.ingestion.metadata import (
    SIDECAR_MAX_BYTES,
    document_attributes,
    inline_attributes,
    sidecar_body,
)

LEFT_OUT = "; it was left out of the metadata"


def read_one(**fields) -> Document:
    documents, problems = read_generic_json(
        {"records": [{"id": "doc-1", "content": "Some text", **fields}]}
    )
    assert problems == []
    return documents[0]


def ingest_request(documents: list[Document]) -> dict:
    """IngestKnowledgeBaseDocuments' request for `documents`, as a delivery would build it."""
    return {
        "knowledgeBaseId": "SANDBOXKB1",
        "dataSourceId": "SANDBOXDS3",
        "documents": [
            {
                "content": {
                    "dataSourceType": "CUSTOM",
                    "custom": {
                        "customDocumentIdentifier": {"id": document.id},
                        "sourceType": "IN_LINE",
                        "inlineContent": {
                            "type": "TEXT",
                            "textContent": {"data": document.content},
                        },
                    },
                },
                "metadata": {
                    "type": "IN_LINE_ATTRIBUTE",
                    "inlineAttributes": inline_attributes(document),
                },
            }
            for document in documents
        ],
    }


def botocore_errors(request: dict) -> str:
    """What botocore's model of bedrock-agent says is wrong with the request ('' when nothing)."""
    model = botocore.session.get_session().get_service_model("bedrock-agent")
    shape = model.operation_model("IngestKnowledgeBaseDocuments").input_shape
    return ParamValidator().validate(request, shape).generate_report()


def test_51_attributes_keep_the_first_50_with_kbsyncs_own_counted():
    metadata = {f"k{n:02d}": f"v{n}" for n in range(1, 52)}
    document = read_one(metadata=metadata, title="T", url="https://x.io/a", tags=["a"])
    # kbsync's title, url, tags and contentType come first: 46 of the record's fit beside them.
    assert list(document.metadata) == [f"k{n:02d}" for n in range(1, 47)]
    assert len(document_attributes(document)) == 50
    assert document.problems == tuple(
        f"data.records[0].metadata.k{n:02d} is past Bedrock's 50 attributes per document "
        f"(4 of them kbsync's own: title, url, tags, contentType){LEFT_OUT}"
        for n in range(47, 52)
    )
    assert botocore_errors(ingest_request([document])) == ""


def test_values_that_do_not_fit_are_named_and_the_rest_kept():
    metadata = {
        "author": "Jane",
        "nested": {"a": 1},
        "nothing": None,
        "mixed": ["a", 1],
        "numbers": [1, 2],
        "empty": "",
        "noList": [],
        "long": "x" * 2049,
        "longest": "x" * 2048,
        "eleven": [str(n) for n in range(11)],
        "ten": [str(n) for n in range(10)],
        "k" * 201: "too long a key",
        "k" * 200: "longest key",
        "x-amz-bedrock-kb-source-uri": "s3://elsewhere",
        "release date": 2024,
        "score": 0.5,
        "draft": False,
        "contentType": "text",
    }
    document = read_one(metadata=metadata)
    assert document.metadata == {
        "author": "Jane",
        "longest": "x" * 2048,
        "ten": tuple(str(n) for n in range(10)),
        "k" * 200: "longest key",
        "release date": 2024,
        "score": 0.5,
        "draft": False,
    }
    path = "data.records[0].metadata"
    assert document.problems == (
        f"{path}.nested is an object: Bedrock's metadata values cannot be nested{LEFT_OUT}",
        f"{path}.nothing is null: Bedrock's values are strings, numbers, booleans or lists of "
        f"strings{LEFT_OUT}",
        f"{path}.mixed is a list of other things than strings: only lists of strings fit "
        f"Bedrock{LEFT_OUT}",
        f"{path}.numbers is a list of other things than strings: only lists of strings fit "
        f"Bedrock{LEFT_OUT}",
        f"{path}.empty is an empty string: Bedrock's string values hold 1 to 2,048 "
        f"characters{LEFT_OUT}",
        f"{path}.noList is an empty list: Bedrock's string lists hold 1 to 10 strings{LEFT_OUT}",
        f"{path}.long is 2,049 characters long: Bedrock's string values hold at most "
        f"2,048{LEFT_OUT}",
        f"{path}.eleven is a list of 11 strings: Bedrock's string lists hold at most 10{LEFT_OUT}",
        f"{path}.{'k' * 201} is a key of 201 characters: Bedrock's keys hold at most 200{LEFT_OUT}",
        f'{path}["x-amz-bedrock-kb-source-uri"] is a key Bedrock keeps for itself (it starts '
        f"with x-amz-bedrock-kb-){LEFT_OUT}",
        f"{path}.contentType is set by kbsync from the record's own contentType{LEFT_OUT}",
    )
    assert botocore_errors(ingest_request([document])) == ""


def test_the_metadata_file_stays_within_bedrocks_10_kb():
    # 1,500-character values (3,000 bytes of UTF-8 each) fit one by one, not all together in
    # the S3 sidecar: three do, beside kbsync's own.
    metadata = {f"part{n}": "é" * 1500 for n in range(1, 6)}
    document = read_one(metadata=metadata)
    assert list(document.metadata) == ["part1", "part2", "part3"]
    body = json.dumps(sidecar_body(document), ensure_ascii=False).encode()
    assert len(body) <= SIDECAR_MAX_BYTES
    assert [problem.split(" would make")[0] for problem in document.problems] == [
        "data.records[0].metadata.part4",
        "data.records[0].metadata.part5",
    ]
    assert "bytes: Bedrock reads at most 10,240" in document.problems[0]


def test_kbsyncs_own_attributes_that_do_not_fit_are_named():
    tags = [f"tag{n}" for n in range(12)]
    document = read_one(title="t" * 2049, tags=tags)
    assert document.tags == tuple(tags)  # the record keeps them; the attribute holds ten
    assert document_attributes(document) == {
        "tags": tuple(tags[:10]),
        "contentType": "markdown",
    }
    assert document.problems == (
        "title is 2,049 characters long: Bedrock's string values hold at most 2,048" + LEFT_OUT,
        "tags: Bedrock's string lists hold at most 10 strings; tag10, tag11 were left out of "
        "the `tags` attribute",
    )


def test_a_metadata_key_that_repeats_kbsyncs_own_with_the_same_value_is_no_problem():
    [document], _ = read_content_hub(
        [
            [
                {
                    "content": {
                        "documentIdentifier": "Page://a",
                        "inlineContent": {"type": "TEXT", "textContent": {"data": "<p>x</p>"}},
                    },
                    "metadata": {
                        "inlineAttributes": [
                            {"key": "title", "value": {"type": "STRING", "stringValue": "Hi"}},
                            {"key": "url", "value": {"type": "STRING", "stringValue": "u:1"}},
                        ]
                    },
                }
            ]
        ]
    )
    assert (document.title, document.url, document.problems) == ("Hi", "u:1", ())
    assert document_attributes(document) == {"title": "Hi", "url": "u:1", "contentType": "markdown"}


def test_inline_attributes_and_sidecar_hold_every_type_in_bedrocks_shapes():
    document = read_one(
        title="Guide",
        url="https://x.io/guide",
        tags=["a", "b"],
        metadata={"views": 3, "score": 0.25, "draft": True, "regions": ["EU"], "team": "docs"},
    )
    assert inline_attributes(document) == [
        {"key": "title", "value": {"type": "STRING", "stringValue": "Guide"}},
        {"key": "url", "value": {"type": "STRING", "stringValue": "https://x.io/guide"}},
        {"key": "tags", "value": {"type": "STRING_LIST", "stringListValue": ["a", "b"]}},
        {"key": "contentType", "value": {"type": "STRING", "stringValue": "markdown"}},
        {"key": "views", "value": {"type": "NUMBER", "numberValue": 3.0}},
        {"key": "score", "value": {"type": "NUMBER", "numberValue": 0.25}},
        {"key": "draft", "value": {"type": "BOOLEAN", "booleanValue": True}},
        {"key": "regions", "value": {"type": "STRING_LIST", "stringListValue": ["EU"]}},
        {"key": "team", "value": {"type": "STRING", "stringValue": "docs"}},
    ]
    assert sidecar_body(document) == {
        "metadataAttributes": {
            "title": "Guide",
            "url": "https://x.io/guide",
            "tags": ["a", "b"],
            "contentType": "markdown",
            "views": 3,
            "score": 0.25,
            "draft": True,
            "regions": ["EU"],
            "team": "docs",
        }
    }
    assert botocore_errors(ingest_request([document])) == ""


def test_botocore_would_refuse_what_the_limits_leave_out():
    # botocore checks minimums only (Bedrock itself the maximums): an empty value, left out
    # by kbsync, is what its model refuses.
    document = read_one(metadata={"empty": ""})
    assert document.metadata == {}
    request = ingest_request([document])
    assert botocore_errors(request) == ""
    request["documents"][0]["metadata"]["inlineAttributes"].append(
        {"key": "empty", "value": {"type": "STRING", "stringValue": ""}}
    )
    assert "Invalid length for parameter" in botocore_errors(request)


def test_the_content_hash_is_stable_across_key_order_and_changed_by_a_real_change():
    record = {
        "id": "doc-1",
        "title": "Guide",
        "content": "Body",
        "metadata": {"author": "Jane", "team": "docs", "regions": ["EU", "US"]},
        "tags": ["a", "b"],
        "url": "https://x.io",
    }
    reordered = {
        "url": "https://x.io",
        "tags": ["a", "b"],
        "metadata": {"regions": ["EU", "US"], "team": "docs", "author": "Jane"},
        "content": "Body",
        "title": "Guide",
        "id": "doc-1",
    }

    def hashed(*records):
        documents, problems = read_generic_json({"records": list(records)})
        assert problems == []
        return [document.content_hash() for document in documents]

    [original] = hashed(record)
    assert hashed(reordered) == [original]
    assert hashed(dict(record, deleted=False, contentType="markdown")) == [original]
    for change in (
        {"content": "Body."},
        {"title": "Guide 2"},
        {"metadata": {**record["metadata"], "team": "ops"}},
        {"metadata": {**record["metadata"], "regions": ["US", "EU"]}},
        {"tags": ["a"]},
        {"url": "https://x.io/b"},
        {"contentType": "text"},
        {"id": "doc-2"},
    ):
        assert hashed(dict(record, **change)) != [original], change


@pytest.mark.parametrize("html", ["<p>Caf&eacute;</p>", "<p>Café</p>", "<p>Caf&#233;</p>"])
def test_content_hub_hashes_the_text_not_how_its_html_spelled_it(html):
    item = {
        "content": {
            "documentIdentifier": "Page://cafe",
            "inlineContent": {"type": "TEXT", "textContent": {"data": html}},
        }
    }
    [document], _ = read_content_hub([[item]])
    assert document.content == "Café"
    expected = read_one(id="Page://cafe", content="Café", title="Café").content_hash()
    assert document.content_hash() == expected
