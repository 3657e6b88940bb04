"""Every service refuses to start on Kafka or Redis with an unsafe signing key or auth off;
the embedded stack on memory runs, warning loudly."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

from services.common.settings import _DEV_KEY, ServiceSettings
from services.ingest.settings import IngestSettings
from services.review_api.settings import ReviewSettings
from services.scorer.settings import ScorerSettings
from services.stack.settings import StackSettings
from services.trainer.settings import TrainerSettings

ROOT = Path(__file__).resolve().parents[3]
GOOD = "q3V9x-7vJ2mPz8LwR4tYb6NcF1hKs5DgA0uEeXiOoWl"  # 43 random characters
SERVICES: list[type[ServiceSettings]] = [IngestSettings, ScorerSettings, ReviewSettings,
                                         TrainerSettings, StackSettings]
BACKENDS = [{"bus": "kafka"}, {"store": "redis"}, {"bus": "kafka", "store": "redis"}]
UNSAFE = {
    "dev default": {"signing_key": SecretStr(_DEV_KEY), "auth": True},
    "empty": {"signing_key": SecretStr(""), "auth": True},
    "short": {"signing_key": SecretStr("s3cr3t-but-only-24-bytes"), "auth": True},
    "placeholder": {"signing_key": SecretStr("changeme" * 4), "auth": True},
    "low entropy": {"signing_key": SecretStr("a" * 40), "auth": True},
    "auth off": {"signing_key": SecretStr(GOOD), "auth": False},
    "short bootstrap": {"signing_key": SecretStr(GOOD), "auth": True,
                        "bootstrap_admin_key": SecretStr("admin")},
}


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("backend", BACKENDS, ids=lambda b: "+".join(b.values()))
@pytest.mark.parametrize("case", UNSAFE)
def test_production_refuses_unsafe_settings(cls: type[ServiceSettings], backend: dict[str, str],
                                            case: str) -> None:
    with pytest.raises(ValidationError) as info:
        cls(**backend, **UNSAFE[case])  # type: ignore[arg-type]
    message = str(info.value.errors()[0]["msg"])
    assert "refusing to start" in message
    secret = UNSAFE[case]["signing_key"].get_secret_value()  # type: ignore[union-attr]
    assert not secret or secret == _DEV_KEY or secret not in message  # never echoed


@pytest.mark.parametrize("cls", SERVICES, ids=lambda c: c.__name__)
def test_production_runs_with_a_real_key_and_auth(cls: type[ServiceSettings]) -> None:
    settings = cls(bus="kafka", store="redis", signing_key=SecretStr(GOOD), auth=True)
    assert settings.production and settings.insecure_reasons() == []


@pytest.mark.parametrize("cls", [IngestSettings, ScorerSettings, ReviewSettings,
                                 TrainerSettings], ids=lambda c: c.__name__)
def test_memory_mode_may_run_insecurely(cls: type[ServiceSettings]) -> None:
    settings = cls(auth=False)
    assert not settings.production and settings.insecure_reasons()


@pytest.mark.parametrize("module", ["services.ingest", "services.scorer",
                                    "services.review_api", "services.trainer",
                                    "services.stack"])
def test_main_exits_with_a_clear_message_and_no_traceback(module: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALSTREAM_")}
    env.update(ALSTREAM_STORE="redis", ALSTREAM_SIGNING_KEY="short",
               ALSTREAM_REDIS_URL="redis://127.0.0.1:1/0")
    proc = subprocess.run([sys.executable, "-m", module], cwd=ROOT, env=env, timeout=120,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "refusing to start" in proc.stderr and "Traceback" not in proc.stderr
    assert "ALSTREAM_SIGNING_KEY is 5 bytes" in proc.stderr


def test_embedded_stack_warns_loudly_about_auth_off_and_the_dev_key(
        caplog: pytest.LogCaptureFixture) -> None:
    from services.stack.__main__ import warn_dev_mode

    settings = StackSettings()
    assert settings.auth is False  # dev stack default
    with caplog.at_level(logging.WARNING):
        warn_dev_mode(settings)
    text = caplog.text
    assert "NOT SAFE" in text and "ALSTREAM_AUTH is off" in text
    assert "development default" in text and text.count("\n") >= 6
