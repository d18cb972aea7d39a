"""What an account has: its knowledge bases in a region and their data sources, for pick lists.

AWS's refusals leave as AwsRequestError (kbsync_core.errors).
"""

from dataclasses import dataclass

from kbsync_core.aws import AwsClients, aws_errors_explained
from kbsync_core.models import AwsCredentials

PAGE_SIZE = 100
# A pick list is a convenience beside manual entry; past this many, typing the id is quicker.
MAX_CHOICES = 500


@dataclass(frozen=True)
class Choice:
    id: str
    name: str
    status: str

    @property
    def label(self) -> str:
        return f"{self.name} ({self.id})"


def _collect(client, operation: str, result_key: str, id_key: str, **params) -> list[Choice]:
    pages = client.get_paginator(operation).paginate(
        **params, PaginationConfig={"MaxItems": MAX_CHOICES, "PageSize": PAGE_SIZE}
    )
    choices = [
        Choice(item[id_key], item.get("name", ""), item.get("status", ""))
        for page in pages
        for item in page[result_key]
    ]
    return sorted(choices, key=lambda choice: choice.name.lower())


def list_knowledge_bases(
    clients: AwsClients, credentials: AwsCredentials, region: str
) -> list[Choice]:
    with aws_errors_explained(credentials):
        client = clients.bedrock_agent(credentials, region)
        return _collect(
            client, "list_knowledge_bases", "knowledgeBaseSummaries", "knowledgeBaseId"
        )


def list_data_sources(
    clients: AwsClients, credentials: AwsCredentials, region: str, knowledge_base_id: str
) -> list[Choice]:
    with aws_errors_explained(credentials):
        client = clients.bedrock_agent(credentials, region)
        return _collect(
            client, "list_data_sources", "dataSourceSummaries", "dataSourceId",
            knowledgeBaseId=knowledge_base_id,
        )
