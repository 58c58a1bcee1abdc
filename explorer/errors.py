"""The failures a user can cause (bad file, missing data, bad setting): shown as one clear message, never a traceback."""
from .checkpoint import CheckpointError
from .datasets import DatasetFormatError, DatasetUnavailable
from .images import ImageFormatError
from .models import ModelConfigError
from .runs import TrainingFailed

USER_ERRORS = (ValueError, CheckpointError, DatasetUnavailable, DatasetFormatError, ModelConfigError, ImageFormatError,
               TrainingFailed, OSError)
