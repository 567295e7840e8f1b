"""The service: OpenAI, Azure OpenAI, or anything with the same fine-tuning endpoints at a `base_url`.

Where the client comes from, in order: `finetune/service.yml` (or `--service FILE`) when it exists, then the
SDK's own environment variables. OpenAI: `OPENAI_API_KEY`, `OPENAI_BASE_URL` (optional; any compatible
service), `OPENAI_ORG_ID`, `OPENAI_PROJECT_ID`. Azure: `AZURE_OPENAI_API_KEY`, `AZURE_OPENAI_ENDPOINT`,
`OPENAI_API_VERSION`. The config never holds a key, only the name of the variable that does
(`api_key_env`), so no secret lives in a file we write or read. The key is never printed, logged or stored;
`Service.describe()` says where it came from.

`call()` turns the SDK's exceptions into ours with one-line explanations (401, 403, 404, 400, 429/5xx after
the SDK's own retries, connection failures). `call_fine_tuning()` does the same for the requests of a submission,
except that on OpenAI (not Azure) a refusal because the model or fine-tuning is no longer available is one line
naming the wind-down's dates and the alternatives (`finetune.wind_down`).

`Service.local(base_url, key)` is a server `evaluate` started itself on this machine: its key (made for the run)
is held in the object, never in the environment, argv or a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import openai
import yaml

from .errors import CredentialsError, ServiceError, ServiceRefused

__all__ = ["Service", "load_service", "call", "call_fine_tuning", "DEFAULT_SERVICE_CONFIG"]

DEFAULT_SERVICE_CONFIG = Path("finetune/service.yml")
T = TypeVar("T")


@dataclass(frozen=True)
class Service:
    """How to reach the service; `key_source` names where the key is (never the key itself)."""

    provider: str  # "openai" or "azure"
    endpoint: str  # base URL (OpenAI) or Azure endpoint; "https://api.openai.com/v1" by default
    key_source: str  # e.g. "environment variable OPENAI_API_KEY"
    api_version: str | None = None
    has_key: bool = False
    _key_env: str = ""
    _key: str | None = field(default=None, repr=False, compare=False)  # only for `Service.local`

    @staticmethod
    def local(base_url: str, key: str) -> "Service":
        """A server started by this process (an evaluation's local model), reached with the key made for it."""
        return Service("openai", base_url.rstrip("/"), "a key made for this run", None, True, "", key)

    def describe(self) -> str:
        key = f"key from {self.key_source}" if self.has_key else f"NO KEY ({self.key_source} is not set)"
        version = f", api-version {self.api_version}" if self.api_version else ""
        return f"{self.provider} at {self.endpoint}{version}, {key}"

    def client(self, *, max_retries: int = 3, timeout: float = 120.0) -> openai.OpenAI:
        """An SDK client. The SDK retries 408/409/429/5xx and dropped connections with backoff itself."""
        if not self.has_key:
            raise CredentialsError(f"no API key: set {self._key_env} (see README, 'Fine-tuning')")
        key = self._key if self._key is not None else os.environ[self._key_env]
        if self.provider == "azure":
            return openai.AzureOpenAI(api_key=key, azure_endpoint=self.endpoint, api_version=self.api_version,
                                      max_retries=max_retries, timeout=timeout)
        return openai.OpenAI(api_key=key, base_url=self.endpoint, max_retries=max_retries, timeout=timeout)


def load_service(config_path: str | Path | None = None) -> Service:
    """The service from the config file (if it exists) and the environment."""
    config: dict[str, Any] = {}
    path = Path(config_path) if config_path else DEFAULT_SERVICE_CONFIG
    if path.is_file():
        try:
            config = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as error:
            raise CredentialsError(f"{path}: not valid YAML: {error}") from None
        if not isinstance(config, dict):
            raise CredentialsError(f"{path}: expected a mapping (provider, base_url, api_key_env, …)")
        if "api_key" in config:
            raise CredentialsError(f"{path}: holds an api_key; keep keys out of files and name the variable "
                                   "that holds it with api_key_env")
    elif config_path:
        raise CredentialsError(f"no service config at {path}")
    provider = config.get("provider") or ("azure" if os.environ.get("AZURE_OPENAI_ENDPOINT") else "openai")
    if provider == "azure":
        key_env = config.get("api_key_env", "AZURE_OPENAI_API_KEY")
        endpoint = config.get("azure_endpoint") or os.environ.get("AZURE_OPENAI_ENDPOINT")
        version = config.get("api_version") or os.environ.get("OPENAI_API_VERSION")
        if not endpoint or not version:
            raise CredentialsError("Azure OpenAI needs an endpoint and an API version: set AZURE_OPENAI_ENDPOINT and "
                                   "OPENAI_API_VERSION (or azure_endpoint and api_version in the service config)")
        return Service("azure", endpoint.rstrip("/"), f"environment variable {key_env}", version,
                       bool(os.environ.get(key_env)), key_env)
    if provider != "openai":
        raise CredentialsError(f"unknown provider {provider!r}: use openai (any compatible base_url) or azure")
    key_env = config.get("api_key_env", "OPENAI_API_KEY")
    endpoint = config.get("base_url") or os.environ.get("OPENAI_BASE_URL") or "https://api.openai.com/v1"
    return Service("openai", endpoint.rstrip("/"), f"environment variable {key_env}", None,
                   bool(os.environ.get(key_env)), key_env)


def call(what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Run one SDK call; turn its failures into one-line FinetuneErrors naming `what` was being done."""
    try:
        return function(*args, **kwargs)
    except openai.AuthenticationError as error:
        raise ServiceRefused(f"{what}: 401 the service rejected the API key ({_message(error)}); check the key "
                             "and the endpoint") from None
    except openai.PermissionDeniedError as error:
        raise ServiceRefused(f"{what}: 403 refused: {_message(error).rstrip('.')}. OpenAI is winding down self-serve "
                             "fine-tuning for organisations without earlier jobs; Azure OpenAI or another "
                             "compatible base_url may still accept the job") from None
    except openai.NotFoundError as error:
        raise ServiceError(f"{what}: 404 not found: {_message(error)}") from None
    except openai.BadRequestError as error:
        raise ServiceError(f"{what}: 400 rejected: {_message(error)}") from None
    except openai.RateLimitError as error:
        raise ServiceError(f"{what}: 429 rate limited after retries: {_message(error)}") from None
    except openai.APIStatusError as error:
        raise ServiceError(f"{what}: {error.status_code} from the service after retries: {_message(error)}") from None
    except openai.APIConnectionError as error:
        raise ServiceError(f"{what}: cannot reach the service ({type(error).__name__}: {error})") from None


def call_fine_tuning(service: Service, what: str, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`call` for the requests of a fine-tuning submission (listing jobs, uploading, creating the job): on the
    OpenAI provider, a 400/403/404 saying the model or fine-tuning is not available is a ServiceRefused of one line
    with the wind-down's dates and the alternatives. Azure OpenAI keeps its own schedule: its answers go to `call`."""
    from .wind_down import is_unavailable_refusal, refusal_line

    try:
        return function(*args, **kwargs)
    except openai.APIError as error:
        if isinstance(error, openai.APIStatusError) and service.provider == "openai" \
                and is_unavailable_refusal(error.status_code, _code(error), _message(error)):
            raise ServiceRefused(refusal_line(what, error.status_code, _message(error))) from None
        return call(what, _reraise, error)


def _reraise(error: Exception) -> None:
    raise error


def _code(error: openai.APIStatusError) -> str | None:
    code = getattr(error, "code", None)
    return str(code) if code is not None else None


def _message(error: openai.APIStatusError) -> str:
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body) if isinstance(body.get("error", body), dict) else body
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
    return str(error.message)
