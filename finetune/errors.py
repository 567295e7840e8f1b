"""Exceptions of the finetune package. The library raises them; only the CLI runner turns them into exit codes.

Each error says its exit code (the table is `pinoloft_base.cli.EXIT_CODES`): what the user can fix in an
option, a file or a config is 2; the fine-tuning API or a model server failing or refusing is 4; a job that
ran and failed is a finding, 1. The warehouse's errors are the base floor's `WarehouseError` (re-exported).
"""

from __future__ import annotations

from pinoloft_base.errors import EXIT_FINDINGS, EXIT_SERVICE, EXIT_USAGE, PinoloftError, WarehouseError

__all__ = [
    "ContextLengthExceeded", "CredentialsError", "ExperimentError", "FileRejected", "FinetuneError", "JobFailed",
    "LocalModelError", "PlanError", "ServeError", "ServiceError", "ServiceRefused", "UsageError", "WarehouseError",
]


class FinetuneError(PinoloftError):
    """Base class: a step that cannot go on, with a message a user can act on (by default an input error:
    no job or metrics in the warehouse yet, a setup step missing)."""

    exit_code = EXIT_USAGE


class UsageError(FinetuneError):
    """Options or arguments that do not go together (e.g. an API command on a local LoRA job)."""


class PlanError(FinetuneError):
    """The dataset cannot be trained on as it is: missing export, failed data check, bad parameters."""


class CredentialsError(FinetuneError):
    """No API key (or endpoint) where the SDK and our config look for one, or a malformed service config."""


class ServiceRefused(FinetuneError):
    """The service said no: 401 (key rejected) or 403 (e.g. an organisation no longer allowed to fine-tune)."""

    exit_code = EXIT_SERVICE


class ServiceError(FinetuneError):
    """The service failed or could not be reached, after the retries that are safe."""

    exit_code = EXIT_SERVICE


class FileRejected(FinetuneError):
    """An uploaded file ended in the `error` state; the message carries the service's details. An input
    error: the file's content is what has to change."""


class JobFailed(FinetuneError):
    """The job ended `failed` (or `cancelled`); the message carries its `error` field. A finding: the step
    ran to its end and the result is a failure."""

    exit_code = EXIT_FINDINGS


class ExperimentError(FinetuneError):
    """An experiment config is malformed (the message names the file and the key)."""


class LocalModelError(FinetuneError):
    """The local backend cannot find or load a model on disk (nothing is ever downloaded), or lacks its extra."""


class ServeError(FinetuneError):
    """The model server cannot start as asked: an unreadable, empty or malformed API key source."""


class ContextLengthExceeded(FinetuneError):
    """A chat request's prompt does not fit in the served model's context (the server answers it with a 400)."""
