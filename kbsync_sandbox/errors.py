"""The one exception the simulation raises: an AWS error the client should receive."""


class ServiceError(Exception):
    """An error answered to the client as a modeled bedrock-agent exception.

    `code` is the error shape's name (e.g. "ConflictException"); the HTTP status comes from
    that shape in botocore's service model, so it cannot drift from what clients expect.
    """

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def validation_error(message: str) -> ServiceError:
    return ServiceError("ValidationException", message)


def not_found(message: str) -> ServiceError:
    return ServiceError("ResourceNotFoundException", message)


def conflict(message: str) -> ServiceError:
    return ServiceError("ConflictException", message)
