"""Exceptions of the finetune package. The library raises them; only the CLI turns them into exit codes."""

from __future__ import annotations


class FinetuneError(Exception):
    """Base class: a step that cannot go on, with a message a user can act on."""


class PlanError(FinetuneError):
    """The dataset cannot be trained on as it is: missing export, failed data check, bad parameters."""


class CredentialsError(FinetuneError):
    """No API key (or endpoint) where the SDK and our config look for one."""


class ServiceRefused(FinetuneError):
    """The service said no: 401 (key rejected) or 403 (e.g. an organisation no longer allowed to fine-tune)."""


class ServiceError(FinetuneError):
    """The service failed or could not be reached, after the retries that are safe."""


class FileRejected(FinetuneError):
    """An uploaded file ended in the `error` state; the message carries the service's details."""


class JobFailed(FinetuneError):
    """The job ended `failed` (or `cancelled`); the message carries its `error` field."""


class ExperimentError(FinetuneError):
    """An experiment config is malformed (the message names the file and the key)."""


class LocalModelError(FinetuneError):
    """The local backend cannot find or load a model on disk (nothing is ever downloaded), or lacks its extra."""


class ServeError(FinetuneError):
    """The model server cannot start as asked: an unreadable, empty or malformed API key source."""


class ContextLengthExceeded(FinetuneError):
    """A chat request's prompt does not fit in the served model's context (the server answers it with a 400)."""
