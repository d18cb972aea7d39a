"""botocore's own bedrock-agent service model: the contract the sandbox answers by."""

from botocore.loaders import Loader
from botocore.model import OperationModel, ServiceModel

SERVICE_MODEL = ServiceModel(Loader().load_service_model("bedrock-agent", "service-2"))

# Modeled exception shapes by HTTP status (one each in bedrock-agent: 400, 402, ... 500).
_ERRORS_BY_STATUS = {
    SERVICE_MODEL.shape_for(name).metadata["error"]["httpStatusCode"]: name
    for name in SERVICE_MODEL.shape_names
    if SERVICE_MODEL.shape_for(name).metadata.get("exception")
}


def operation_model(operation: str) -> OperationModel:
    return SERVICE_MODEL.operation_model(operation)


def error_status(code: str) -> int | None:
    """The HTTP status the model gives the error shape `code`, None if it is not modeled."""
    if code not in SERVICE_MODEL.shape_names:
        return None
    return SERVICE_MODEL.shape_for(code).metadata.get("error", {}).get("httpStatusCode")


def error_for_status(status: int) -> str | None:
    return _ERRORS_BY_STATUS.get(status)
