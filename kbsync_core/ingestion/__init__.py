"""Content ingestion (seed 002, DESIGN.md "Content ingestion"): records in, documents of a
knowledge base out.

- documents.py: what a record becomes (a Document) and what it may carry into Bedrock.
- adapters.py: the input formats (generic-json, content-hub) turned into Documents.
"""
