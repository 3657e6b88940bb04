"""``python -m services.ingest``: the ingest service as its own process."""

from services.common.runtime import run_main
from services.ingest.service import build_ingest
from services.ingest.settings import IngestSettings

if __name__ == "__main__":
    run_main("ingest", IngestSettings, build_ingest)
