from __future__ import annotations

import uuid

import pytest

from .helpers import MotoServer

S3_BUCKET = "sekisho-vault-test"


@pytest.fixture(autouse=True)
def vault_dirs(settings, tmp_path):
    """Each test its own vault, key store, key-store backups and master key; small segments so that even
    small test files span many of them."""
    settings.VAULT_DIR = tmp_path / "vault"
    settings.SEKISHO_VAULT_KEY_DIR = tmp_path / "keys"
    settings.SEKISHO_MASTER_KEY_FILE = tmp_path / "master.key"
    settings.SEKISHO_VAULT_KEY_BACKUPS = [tmp_path / "key-backup-a", tmp_path / "key-backup-b"]
    settings.SEKISHO_VAULT_SEGMENT_SIZE = 4096
    settings.SEKISHO_VAULT_BACKEND = "filesystem"
    return tmp_path


@pytest.fixture(scope="session")
def moto_server(tmp_path_factory):
    server = MotoServer(tmp_path_factory.mktemp("moto"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_settings(settings, moto_server):
    import boto3

    bucket = f"{S3_BUCKET}-{uuid.uuid4().hex[:8]}"
    client = boto3.client(
        "s3",
        endpoint_url=moto_server.url,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-1",
    )
    client.create_bucket(Bucket=bucket)
    settings.SEKISHO_VAULT_BACKEND = "s3"
    settings.SEKISHO_VAULT_S3_ENDPOINT = moto_server.url
    settings.SEKISHO_VAULT_S3_BUCKET = bucket
    settings.SEKISHO_VAULT_S3_ACCESS_KEY = "test"
    settings.SEKISHO_VAULT_S3_SECRET_KEY = "test"
    settings.SEKISHO_VAULT_S3_REGION = "us-east-1"
    settings.SEKISHO_VAULT_S3_PART_SIZE = 5 << 20
    return settings


@pytest.fixture(params=["filesystem", "s3"])
def backend(request):
    """Run the test once on each storage backend."""
    if request.param == "s3":
        request.getfixturevalue("s3_settings")
    return request.param
