"""``python -m services.trainer``: the trainer as its own process."""

from services.common.runtime import run_main
from services.trainer.service import build_trainer
from services.trainer.settings import TrainerSettings

if __name__ == "__main__":
    run_main("trainer", TrainerSettings, build_trainer)
