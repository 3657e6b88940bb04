"""``python -m services.scorer``: the scorer as its own process (scale out in one group)."""

from services.common.runtime import run_main
from services.scorer.service import build_scorer
from services.scorer.settings import ScorerSettings

if __name__ == "__main__":
    run_main("scorer", ScorerSettings, build_scorer)
