"""Fixtures for the fine-tuning tests: a fresh fake OpenAI server per test, and SDK settings pointing at it."""
from __future__ import annotations

import openai
import pytest
from fake_openai import FakeOpenAI

# Environment variables the SDK reads; cleared so a developer's real settings never reach a test.
SDK_ENV_VARS = ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_ORG_ID", "OPENAI_PROJECT_ID", "OPENAI_WEBHOOK_SECRET",
                "OPENAI_API_VERSION", "AZURE_OPENAI_API_KEY", "AZURE_OPENAI_ENDPOINT", "AZURE_OPENAI_AD_TOKEN")
AZURE_API_VERSION = "2024-10-21"


@pytest.fixture
def fake_openai():
    """A started FakeOpenAI (its own port, empty state), stopped after the test."""
    with FakeOpenAI() as server:
        yield server


@pytest.fixture
def openai_env(fake_openai, monkeypatch):
    """OPENAI_API_KEY and OPENAI_BASE_URL set for the fake (other SDK variables cleared); returns the fake."""
    for name in SDK_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", fake_openai.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.base_url)
    return fake_openai


@pytest.fixture
def azure_openai_env(fake_openai, monkeypatch):
    """AZURE_OPENAI_ENDPOINT, AZURE_OPENAI_API_KEY and OPENAI_API_VERSION set for the fake; returns the fake."""
    for name in SDK_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", fake_openai.azure_endpoint)
    monkeypatch.setenv("AZURE_OPENAI_API_KEY", fake_openai.api_key)
    monkeypatch.setenv("OPENAI_API_VERSION", AZURE_API_VERSION)
    return fake_openai


@pytest.fixture
def openai_client(fake_openai):
    """openai.OpenAI on the fake, without retries."""
    with openai.OpenAI(base_url=fake_openai.base_url, api_key=fake_openai.api_key, max_retries=0) as client:
        yield client


@pytest.fixture
def azure_client(fake_openai):
    """openai.AzureOpenAI on the fake, without retries."""
    with openai.AzureOpenAI(azure_endpoint=fake_openai.azure_endpoint, api_key=fake_openai.api_key,
                            api_version=AZURE_API_VERSION, max_retries=0) as client:
        yield client


@pytest.fixture
def openai_itself(monkeypatch):
    """A key, and no base_url: the service is OpenAI's own API (a plan sends nothing, so nothing is reached)."""
    for name in SDK_ENV_VARS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-never-sent-0000000000000000")
