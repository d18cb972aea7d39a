"""Content ingestion (seed 002, DESIGN.md "Content ingestion"): records in, documents of a
knowledge base out.

- documents.py: what a record becomes (a Document) and what it may carry into Bedrock.
- adapters.py: the input formats (generic-json, content-hub) turned into Documents.
- markdown.py: content-hub's HTML as Markdown (markdownify), and a title found in a text.
- metadata.py: Bedrock's metadata limits, kbsync's own attributes (title, url, tags,
  contentType), and the shapes a document's attributes travel in (inline attributes for
  IngestKnowledgeBaseDocuments, the body of an S3 `<doc>.metadata.json`).
"""
