"""Reading an AppTest run the way an operator reads the screen, and acting on the sandbox as
someone outside kbsync would."""

import time

import boto3
from streamlit.testing.v1 import AppTest

from kbsync_core.models import Execution
from kbsync_sandbox import SANDBOX_DATA_SOURCE_ID, SANDBOX_KNOWLEDGE_BASE_ID, SANDBOX_REGION

WAIT_SECONDS = 30


def texts(at: AppTest) -> str:
    """Every piece of text on the page, one per line."""
    parts = []
    for kind in ("markdown", "caption", "warning", "error", "info", "code", "title", "subheader"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    return "\n".join(parts)


def sidebar_texts(at: AppTest) -> str:
    return "\n".join(str(caption.value) for caption in at.sidebar.caption)


def rerun_until(at: AppTest, condition, timeout: float = WAIT_SECONDS) -> AppTest:
    """Rerun the page the way the refresh fragment would, until `condition(at)` holds."""
    deadline = time.monotonic() + timeout
    while True:
        at.run()
        assert not at.exception, at.exception
        if condition(at):
            return at
        if time.monotonic() > deadline:
            raise AssertionError(f"not reached in time; the page says:\n{texts(at)}")
        time.sleep(0.05)


def wait_for_execution(kbsync, execution_id: str, condition) -> Execution:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        execution = kbsync.engine.get(execution_id)
        if condition(execution):
            return execution
        time.sleep(0.02)
    raise AssertionError(f"execution never reached the condition: {execution}")


def run_outside_kbsync() -> dict:
    """A job started with AWS's own API (the AWS console, a script), not by kbsync, on the
    in-process sandbox."""
    return boto3.client("bedrock-agent", region_name=SANDBOX_REGION).start_ingestion_job(
        knowledgeBaseId=SANDBOX_KNOWLEDGE_BASE_ID, dataSourceId=SANDBOX_DATA_SOURCE_ID
    )["ingestionJob"]
