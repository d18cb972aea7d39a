"""Input checks against botocore's model, as Bedrock's front end makes them.

botocore checks little before sending (required members, types, minimum lengths; no maximum,
pattern or enum), so a request it lets through can still break a constraint the service
refuses with a ValidationException. The document operations' inputs are deep (documents,
contents, metadata attributes), so they are checked here member by member against the shape,
rather than by hand as the flat inputs of the other operations are.
"""

import base64
import binascii
import math
import re

from botocore.model import Shape

from .errors import ServiceError, validation_error

# A value longer than this is not echoed in a message (Bedrock does not echo content either).
ECHOED_VALUE_LENGTH = 100


def check_input(shape: Shape, params: dict) -> None:
    """Raise a ValidationException naming the first member of `params` that breaks `shape`.

    Members bound to the URI (ids) are checked too: they are in `params` like any other.
    """
    problem = _violation(shape, params, "")
    if problem is not None:
        raise problem


def _violation(shape: Shape, value: object, path: str) -> ServiceError | None:
    kind = shape.type_name
    if kind == "structure":
        return _structure_violation(shape, value, path)
    if kind == "list":
        if not isinstance(value, list):
            return _type_error(path, "a list")
        problem = _length_violation(shape, value, len(value), path)
        for index, item in enumerate(value):
            problem = problem or _violation(shape.member, item, f"{path}.{index + 1}.member")
        return problem
    if kind == "string":
        if not isinstance(value, str):
            return _type_error(path, "a string")
        problem = _length_violation(shape, value, len(value), path)
        if problem is None and shape.enum and value not in shape.enum:
            problem = _constraint(path, value, shape, f"satisfy enum value set: {shape.enum}")
        pattern = shape.metadata.get("pattern")
        if problem is None and pattern and not re.fullmatch(pattern, value, re.DOTALL):
            problem = _constraint(
                path, value, shape, f"satisfy regular expression pattern: {pattern}"
            )
        return problem
    if kind in ("integer", "long"):
        if not isinstance(value, int) or isinstance(value, bool):
            return _type_error(path, "a whole number")
        return _range_violation(shape, value, path)
    if kind in ("double", "float"):
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            return _type_error(path, "a number")
        return _range_violation(shape, value, path)
    if kind == "boolean":
        return None if isinstance(value, bool) else _type_error(path, "true or false")
    if kind == "blob":
        try:
            decoded = base64.b64decode(value, validate=True) if isinstance(value, str) else None
        except binascii.Error:
            decoded = None
        if decoded is None:
            return _type_error(path, "base64-encoded bytes")
        return _length_violation(shape, value, len(decoded), path)
    return None  # timestamps and documents: no input of the document operations has them


def _structure_violation(shape: Shape, value: object, path: str) -> ServiceError | None:
    if not isinstance(value, dict):
        return _type_error(path, "an object")
    for name in shape.required_members:
        if value.get(name) is None:
            return validation_error(
                f"1 validation error detected: Value null at '{_join(path, name)}' failed to "
                "satisfy constraint: Member must not be null"
            )
    for name, member in shape.members.items():
        if value.get(name) is not None:
            problem = _violation(member, value[name], _join(path, name))
            if problem is not None:
                return problem
    return None


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _length_violation(shape: Shape, value: object, length: int, path: str) -> ServiceError | None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and length < low:
        return _constraint(path, value, shape, f"have length greater than or equal to {low}")
    if high is not None and length > high:
        return _constraint(path, value, shape, f"have length less than or equal to {high}")
    return None


def _range_violation(shape: Shape, value: float, path: str) -> ServiceError | None:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    if low is not None and value < low:
        return _constraint(path, value, shape, f"have value greater than or equal to {low}")
    if high is not None and value > high:
        return _constraint(path, value, shape, f"have value less than or equal to {high}")
    return None


def _constraint(path: str, value: object, shape: Shape, constraint: str) -> ServiceError:
    echoed = (
        isinstance(value, str | int | float)
        and not shape.metadata.get("sensitive")
        and len(str(value)) <= ECHOED_VALUE_LENGTH
    )
    subject = f"Value '{value}' at '{path}'" if echoed else f"Value at '{path}'"
    return validation_error(
        f"1 validation error detected: {subject} failed to satisfy constraint: "
        f"Member must {constraint}"
    )


def _type_error(path: str, expected: str) -> ServiceError:
    return validation_error(f"The value at '{path}' must be {expected}.")
