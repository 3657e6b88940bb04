"""``python -m services.review_api``: the review API as its own process."""

from services.common.runtime import run_main
from services.review_api.service import build_review_api
from services.review_api.settings import ReviewSettings

if __name__ == "__main__":
    run_main("review_api", ReviewSettings, build_review_api)
