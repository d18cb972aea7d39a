"""Names of the simulated AWS account and of the resources every sandbox starts with."""

SANDBOX_REGION = "us-east-1"
# moto's default account (moto.core.DEFAULT_ACCOUNT_ID), which holds the sandbox's buckets.
SANDBOX_ACCOUNT_ID = "123456789012"

SANDBOX_KNOWLEDGE_BASE_ID = "SANDBOXKB1"
SANDBOX_DATA_SOURCE_ID = "SANDBOXDS1"
SANDBOX_FAILING_DATA_SOURCE_ID = "SANDBOXDS2"
# A CUSTOM data source: no bucket, its documents arrive by IngestKnowledgeBaseDocuments.
SANDBOX_CUSTOM_DATA_SOURCE_ID = "SANDBOXDS3"

# Requests signed with an access key id starting with this are refused, so the console's
# "permission denied" paths can be tried without a real IAM policy.
DENIED_ACCESS_KEY_PREFIX = "AKIADENIED"
