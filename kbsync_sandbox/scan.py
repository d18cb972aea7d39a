"""What an ingestion job finds in its S3 bucket, and the statistics that follow from it.

Syncs are incremental, as in Bedrock: a document counts as new or modified against the
bucket as the last successful sync of the same data source saw it (S3 ETags).
"""

import json
import posixpath
from dataclasses import dataclass

from .content import METADATA_SUFFIX

# Bedrock's documented ingestion limits and formats for S3 data sources.
SUPPORTED_EXTENSIONS = (".txt", ".md", ".html", ".doc", ".docx", ".csv", ".xls", ".xlsx", ".pdf")
MAX_DOCUMENT_BYTES = 50 * 1024 * 1024
MAX_METADATA_BYTES = 10 * 1024
PDF_MAGIC = b"%PDF-"


@dataclass(frozen=True)
class ScannedDocument:
    etag: str
    metadata_etag: str | None  # ETag of its .metadata.json sidecar, if it has one


@dataclass(frozen=True)
class BucketScan:
    documents: dict[str, ScannedDocument]  # by S3 key, sidecars excluded
    metadata_documents: int
    failures: dict[str, str]  # S3 key of a document -> why it cannot be ingested


def scan_bucket(s3, bucket: str) -> BucketScan:
    """List the bucket through S3 (moto inside the sandbox) and check every document."""
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if not item["Key"].endswith("/"):  # folder placeholders are not documents
                objects[item["Key"]] = item
    sidecars = {key: item for key, item in objects.items() if key.endswith(METADATA_SUFFIX)}
    documents = {}
    failures = {}
    for key, item in objects.items():
        if key in sidecars:
            continue
        sidecar = sidecars.get(key + METADATA_SUFFIX)
        documents[key] = ScannedDocument(item["ETag"], sidecar["ETag"] if sidecar else None)
        reason = _document_problem(s3, bucket, item) or (
            sidecar and _metadata_problem(s3, bucket, sidecar)
        )
        if reason:
            failures[key] = reason
    return BucketScan(documents, len(sidecars), failures)


def _document_problem(s3, bucket: str, item: dict) -> str | None:
    key = item["Key"]
    uri = f"s3://{bucket}/{key}"
    extension = posixpath.splitext(key)[1].lower()
    if extension not in SUPPORTED_EXTENSIONS:
        return (
            f"Encountered error: Ignored {uri}: the file format {extension or '(none)'} is not "
            f"supported. Supported formats: {', '.join(SUPPORTED_EXTENSIONS)}."
        )
    if item["Size"] > MAX_DOCUMENT_BYTES:
        return (
            f"Encountered error: {uri} is {item['Size'] / 1024 / 1024:.1f} MB, which exceeds "
            f"the maximum file size of {MAX_DOCUMENT_BYTES // 1024 // 1024} MB."
        )
    if extension == ".pdf":
        head = s3.get_object(Bucket=bucket, Key=key, Range=f"bytes=0-{len(PDF_MAGIC) - 1}")
        if head["Body"].read() != PDF_MAGIC:
            return f"Encountered error: Unable to parse {uri}: the file is not a valid PDF."
    return None


def _metadata_problem(s3, bucket: str, item: dict) -> str | None:
    uri = f"s3://{bucket}/{item['Key']}"
    if item["Size"] > MAX_METADATA_BYTES:
        return (
            f"Encountered error: The metadata file {uri} exceeds the maximum size of "
            f"{MAX_METADATA_BYTES // 1024} KB."
        )
    body = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    try:
        metadata = json.loads(body)
    except ValueError as error:
        return f"Encountered error: The metadata file {uri} is not valid JSON: {error}."
    if not isinstance(metadata, dict) or not isinstance(metadata.get("metadataAttributes"), dict):
        return (
            f"Encountered error: The metadata file {uri} must contain a "
            '"metadataAttributes" object.'
        )
    return None


def sync_statistics(scan: BucketScan, last_synced: dict[str, ScannedDocument]) -> dict[str, int]:
    """Final IngestionJobStatistics of a sync of `scan` after a sync that saw `last_synced`."""
    indexed = {key: doc for key, doc in scan.documents.items() if key not in scan.failures}
    kept = {key: doc for key, doc in indexed.items() if key in last_synced}
    return {
        "numberOfDocumentsScanned": len(scan.documents),
        "numberOfMetadataDocumentsScanned": scan.metadata_documents,
        "numberOfNewDocumentsIndexed": len(indexed) - len(kept),
        "numberOfModifiedDocumentsIndexed": sum(
            doc.etag != last_synced[key].etag for key, doc in kept.items()
        ),
        # A sidecar added, changed or removed for a document that was already indexed.
        "numberOfMetadataDocumentsModified": sum(
            doc.metadata_etag != last_synced[key].metadata_etag for key, doc in kept.items()
        ),
        "numberOfDocumentsDeleted": len(last_synced.keys() - scan.documents.keys()),
        "numberOfDocumentsFailed": len(scan.failures),
    }
