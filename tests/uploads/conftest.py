"""A real S3-protocol server for the upload tests: MinIO when STORM_TEST_S3_URL points to one
(credentials from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY), else moto's standalone server
started here on a free port. Each test gets its own bucket."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass(frozen=True)
class S3:
    endpoint: str
    bucket: str

    def url(self, prefix: str = "proj") -> str:
        return f"s3://{self.bucket}/{prefix}"

    def client(self) -> object:
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    given = os.environ.get("STORM_TEST_S3_URL", "").strip()
    if given:
        yield given
        return
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("moto server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Credentials from the environment (moto takes any); MinIO's from the CI's env."""
    if not os.environ.get("STORM_TEST_S3_URL"):
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "storm-test")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "storm-test-secret")
    monkeypatch.setenv("AWS_DEFAULT_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))  # no user profiles
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))


@pytest.fixture
def s3(s3_endpoint: str, aws_env: None) -> S3:
    bucket = f"storm-{uuid.uuid4().hex[:12]}"
    import boto3

    boto3.client("s3", endpoint_url=s3_endpoint).create_bucket(Bucket=bucket)
    return S3(s3_endpoint, bucket)


def write_random(path: Path, size: int, seed: int = 0) -> Path:
    import random

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(random.Random(seed).randbytes(size))
    return path


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    path = tmp_path / "data"
    path.mkdir()
    return path
