"""Structured logging: one handler however often it is set up, JSON lines with identity and
record ids, text lines stay readable, level from the argument."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from services.common.bus.base import Record
from services.common.bus.memory import MemoryBus
from services.common.bus.runner import ConsumerLoop, Item
from services.common.logging import log_context, setup_logging
from services.common.observability import Metrics
from services.common.schemas import Document
from services.common.settings import CommonSettings


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger().handlers if getattr(h, "_alstream", False)]


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _capture(handler: logging.Handler) -> io.StringIO:
    buf = io.StringIO()
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(buf)
    return buf


def test_setup_twice_leaves_one_handler(restore_root: None) -> None:
    setup_logging("scorer")
    setup_logging("scorer", fmt="json")
    assert len(_ours()) == 1


def test_json_line_has_identity_and_ids(restore_root: None) -> None:
    buf = _capture(setup_logging("scorer", "DEBUG", "json", instance="pod-7", version="1.2.3"))
    log = logging.getLogger("alstream.test")
    with log_context(topic="alstream.documents", partition=3, offset=41):
        log.info("scored %d", 5, extra={"document_id": "d/1"})
    log.info("outside")
    first, second = (json.loads(line) for line in buf.getvalue().splitlines())
    assert first["message"] == "scored 5"
    assert (first["service"], first["instance"], first["version"]) == ("scorer", "pod-7", "1.2.3")
    assert (first["topic"], first["partition"], first["offset"]) == ("alstream.documents", 3, 41)
    assert first["document_id"] == "d/1"
    assert first["level"] == "INFO" and first["logger"] == "alstream.test"
    # The context ends with the block.
    assert "topic" not in second and second["service"] == "scorer"


def test_json_line_carries_the_exception(restore_root: None) -> None:
    buf = _capture(setup_logging("trainer", fmt="json"))
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    line = json.loads(buf.getvalue())
    assert "ValueError: boom" in line["exc_info"]


def test_text_format_is_the_default_and_shows_ids(restore_root: None) -> None:
    assert CommonSettings().log_format == "text"
    buf = _capture(setup_logging("ingest"))
    logging.getLogger("t").info("hello", extra={"item_id": "i1"})
    text = buf.getvalue()
    assert "[ingest] hello item_id=i1" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)


def test_level_comes_from_the_argument(restore_root: None) -> None:
    buf = _capture(setup_logging("ingest", "WARNING", "json"))
    logging.getLogger("t").info("hidden")
    logging.getLogger("t").warning("shown")
    assert [json.loads(x)["message"] for x in buf.getvalue().splitlines()] == ["shown"]


def test_log_format_setting_refuses_unknown_values(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALSTREAM_LOG_FORMAT", "json")
    assert CommonSettings().log_format == "json"
    monkeypatch.setenv("ALSTREAM_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        CommonSettings()


async def test_consumer_loop_logs_carry_topic_partition_offset(restore_root: None) -> None:
    buf = _capture(setup_logging("scorer", fmt="json"))
    seen: list[int] = []

    async def handler(items: list[Item[Document]]) -> None:
        if len(items) > 1:
            raise RuntimeError("batch fails, so each record is retried alone")
        logging.getLogger("h").info("handling")
        seen.append(items[0].record.offset)

    bus = MemoryBus()
    loop: ConsumerLoop[Document] = ConsumerLoop(
        bus=bus, consumer=bus.consumer(["t"], "g"), schema=Document, handler=handler,
        dead_letter_topic="dl", group="g", metrics=Metrics(), retry_backoff_s=0.0,
    )
    records = [Record("t", 0, n, f"doc-{n}", Document(id=f"doc-{n}", text="x")
                      .model_dump_json().encode()) for n in (5, 6)]
    await loop._process(records)
    lines = [json.loads(x) for x in buf.getvalue().splitlines()]
    handled = [x for x in lines if x["message"] == "handling"]
    assert [(x["topic"], x["partition"], x["offset"], x["key"], x["group"]) for x in handled] == [
        ("t", 0, 5, "doc-5", "g"), ("t", 0, 6, "doc-6", "g")]
    assert seen == [5, 6]
