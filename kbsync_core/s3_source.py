"""A data source's S3 side: which bucket and prefixes it reads (GetDataSource), and how many
documents they hold (ListObjectsV2).

Progress uses the count as the expected total of a data source's first sync, when no complete
sync says how many documents to expect. Bedrock reads every object under the inclusion prefixes
(the whole bucket without any) except the `<name>.metadata.json` sidecars, which hold another
object's attributes; "folder" placeholder keys (ending in `/`) hold nothing.
"""

import logging
from dataclasses import dataclass

from kbsync_core.models import SyncTarget

logger = logging.getLogger(__name__)

METADATA_SUFFIX = ".metadata.json"
# ListObjectsV2 pages (1,000 keys each) read at most: a bigger bucket's count is left unknown
# rather than spend minutes of calls on a number that only feeds a progress bar.
MAX_PAGES = 50


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefixes: tuple[str, ...]


def bucket_of(bucket_arn: str | None) -> str | None:
    """`arn:aws:s3:::name` → `name`."""
    if not bucket_arn:
        return None
    return bucket_arn.rsplit(":", 1)[-1] or None


def location_of(data_source: dict) -> S3Location | None:
    """Where a data source (GetDataSource's `dataSource`) reads from; None unless it is S3."""
    configuration = data_source.get("dataSourceConfiguration") or {}
    s3 = configuration.get("s3Configuration") or {}
    bucket = bucket_of(s3.get("bucketArn"))
    if configuration.get("type") != "S3" or not bucket:
        return None
    return S3Location(bucket, tuple(s3.get("inclusionPrefixes") or ()))


def is_document(key: str) -> bool:
    return not key.endswith("/") and not key.endswith(METADATA_SUFFIX)


def count_documents(s3_client, location: S3Location, max_pages: int = MAX_PAGES) -> int | None:
    """The documents under the location's prefixes; None when there are more than `max_pages`
    pages of keys to read."""
    count = 0
    pages = 0
    # Overlapping prefixes ("docs/", "docs/2024/") would count a key twice: count each once.
    seen: set[str] = set()
    paginator = s3_client.get_paginator("list_objects_v2")
    for prefix in location.prefixes or ("",):
        for page in paginator.paginate(Bucket=location.bucket, Prefix=prefix):
            pages += 1
            if pages > max_pages:
                return None
            for item in page.get("Contents") or ():
                key = item["Key"]
                if key not in seen and is_document(key):
                    seen.add(key)
                    count += 1
    return count


def expected_documents(bedrock_client, s3_client, target: SyncTarget) -> int | None:
    """How many documents a sync of `target` should scan, from its bucket; None when the data
    source is not S3, the bucket is too big to count, or AWS refuses (an identity allowed to
    sync need not be allowed to list the bucket): progress then waits for a complete sync."""
    try:
        data_source = bedrock_client.get_data_source(
            knowledgeBaseId=target.knowledge_base_id, dataSourceId=target.data_source_id
        )["dataSource"]
        location = location_of(data_source)
        return None if location is None else count_documents(s3_client, location)
    except Exception as error:
        logger.info(
            "Could not count the documents of %s's bucket: %s", target, type(error).__name__
        )
        return None
