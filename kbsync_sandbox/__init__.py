"""A simulated AWS, in-process, that real boto3 clients talk to: S3 from moto, and the
bedrock-agent knowledge base / data source / ingestion job operations simulated here, and the
document operations (IngestKnowledgeBaseDocuments...) of direct ingestion into a data source.

    with sandbox(speed=50) as sb:
        client = boto3.client("bedrock-agent", region_name=SANDBOX_REGION)
        client.start_ingestion_job(
            knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
        )

Create clients inside the sandbox: clients created before it started talk to real AWS.
"""

from .constants import (
    DENIED_ACCESS_KEY_PREFIX,
    SANDBOX_CUSTOM_DATA_SOURCE_ID,
    SANDBOX_DATA_SOURCE_ID,
    SANDBOX_FAILING_DATA_SOURCE_ID,
    SANDBOX_KNOWLEDGE_BASE_ID,
    SANDBOX_REGION,
)
from .environment import Sandbox, sandbox

__all__ = [
    "DENIED_ACCESS_KEY_PREFIX",
    "SANDBOX_CUSTOM_DATA_SOURCE_ID",
    "SANDBOX_DATA_SOURCE_ID",
    "SANDBOX_FAILING_DATA_SOURCE_ID",
    "SANDBOX_KNOWLEDGE_BASE_ID",
    "SANDBOX_REGION",
    "Sandbox",
    "sandbox",
]
