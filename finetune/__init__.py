"""Fine-tuning driver (floor 3: may import `mutations`, `validation`, `exporters`).

Any service with OpenAI's fine-tuning endpoints (OpenAI, Azure OpenAI, a custom `base_url`): a dry-run plan
(`plan_training`), submission that never creates a job twice (`submit`), resumable monitoring into the
warehouse's `finetune` schema (`watch`), experiments as config, and loss curves (`plot_job`).
"""

from .client import Service, call, load_service
from .errors import (
    CredentialsError,
    ExperimentError,
    FileRejected,
    FinetuneError,
    JobFailed,
    PlanError,
    ServiceError,
    ServiceRefused,
    UsageError,
)
from .experiments import Experiment, compare_rows, load_experiments, plan_experiment, record_experiment
from .jobs import WatchResult, cancel, record_job, submit, watch
from .plan import Hyperparameters, TrainingPlan, derive_fraction, plan_training
from .store import Store

__all__ = [
    "CredentialsError", "Experiment", "ExperimentError", "FileRejected", "FinetuneError", "Hyperparameters",
    "JobFailed", "PlanError", "Service", "ServiceError", "ServiceRefused", "Store", "TrainingPlan", "UsageError",
    "WatchResult", "call", "cancel", "compare_rows", "derive_fraction", "load_experiments", "load_service", "plan_experiment",
    "plan_training", "record_experiment", "record_job", "submit", "watch",
]
