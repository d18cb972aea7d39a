"""GET /api/health: kbsync's addition, open to load balancers and uptime checks."""

import tomllib
from pathlib import Path

PYPROJECT = Path(__file__).resolve().parents[2] / "pyproject.toml"


def test_health_says_ok_the_backend_and_the_version(api):
    reply = api.get("/api/health")
    version = tomllib.loads(PYPROJECT.read_text())["project"]["version"]
    assert reply.status == 200
    assert reply.json == {"ok": True, "backend": "sandbox", "version": version}


def test_health_names_the_aws_backend(aws_api):
    assert aws_api.get("/api/health").json["backend"] == "aws"
