"""structlog set-up: one JSON object per line (or readable console lines on a terminal), the six
correlation fields on every line."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import sys
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any, TextIO

import structlog

from postplan.core.context import REQUIRED_LOG_FIELDS
from postplan.core.redact import redact_value

_SECRET_KEYS = re.compile(
    r"(token|secret|password|authorization|api[_-]?key|cookie)", re.IGNORECASE
)
_BEARER = re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_TOKEN_LIKE = re.compile(r"\b(act|rft|IG[A-Za-z]{2})\.[A-Za-z0-9._-]{6,}")


def mask(value: str) -> str:
    """Hide all but a short prefix of a secret, so a log still tells two tokens apart."""
    if len(value) <= 8:
        return "***"
    return value[:4] + "***"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _TOKEN_LIKE.sub(lambda m: mask(m.group(0)), _BEARER.sub(r"\1***", value))
    if isinstance(value, dict):
        return {
            k: ("***" if isinstance(k, str) and _SECRET_KEYS.search(k) and v else _scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_scrub(v) for v in value]
    return value


def redact_secrets(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Never let a token reach a log line, whatever a caller passed."""
    for key in list(event_dict):
        value = event_dict[key]
        if _SECRET_KEYS.search(key) and key not in REQUIRED_LOG_FIELDS and value:
            event_dict[key] = "***"
        else:
            event_dict[key] = _scrub(value)
    return event_dict


def add_required_fields(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Every line carries the six fields of docs/contract.md §6, null where one does not apply."""
    for field in REQUIRED_LOG_FIELDS:
        event_dict.setdefault(field, None)
    return event_dict


def redact_secret_paths(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """The last step before a line is rendered, for every logger (uvicorn's access and error
    logs included) and after tracebacks are formatted: feed tokens (a secret path, or the
    current request's own secret anywhere in the text) are replaced in every field."""
    for key in list(event_dict):
        event_dict[key] = redact_value(event_dict[key])
    return event_dict


def drop_color_message(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """uvicorn passes an ANSI-coloured copy of its message as `color_message`; JSON needs none."""
    event_dict.pop("color_message", None)
    return event_dict


def drop_nulls(
    _logger: Any, _name: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Console lines only: the required fields that are null say nothing to a reader."""
    for key in [k for k, v in event_dict.items() if v is None]:
        del event_dict[key]
    return event_dict


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is at emit time (test runners swap it per test)."""

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


#: `LOG_FORMAT` values: `auto` is console on a terminal and JSON otherwise (files, pipes,
#: containers), so a newcomer reads plain lines and every collector still gets JSON.
LOG_FORMATS = ("auto", "json", "console")


def choose_format(fmt: str, *, to_file: bool, stream: TextIO | None = None) -> str:
    """`json` or `console` for `LOG_FORMAT` (`auto` writes a log file as JSON: tools read it)."""
    if fmt not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}")
    if fmt != "auto":
        return fmt
    if to_file:
        return "json"
    target = stream if stream is not None else sys.stderr
    try:
        return "console" if target.isatty() else "json"
    except (AttributeError, ValueError):  # a closed or fake stream is not a terminal
        return "json"


def _file_handler(log_file: Path) -> logging.Handler:
    """Appends to `log_file` and reopens it when it is renamed or removed (logrotate's default
    `create` mode); `copytruncate` works too, since the file is opened for appending."""
    log_file.parent.mkdir(parents=True, exist_ok=True)
    return logging.handlers.WatchedFileHandler(log_file, encoding="utf-8")


def configure_logging(level: str = "INFO", log_file: Path | None = None,
                      fmt: str = "auto") -> None:
    """Send structlog and stdlib logging (uvicorn, alembic) through one pipeline: JSON lines
    (LOG_FILE, or stderr when it is not a terminal) or coloured console lines on a terminal."""
    renderer_name = choose_format(fmt, to_file=log_file is not None)
    for old in logging.getLogger().handlers:
        # Handlers this function made earlier: close their files before replacing them.
        if isinstance(old, logging.FileHandler):
            old.close()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
        add_required_fields,
        redact_secrets,
    ]
    structlog.configure(
        processors=[
            # First: an event below the level is dropped before the chain below formats it
            # (timestamps, secret scrubbing); a busy worker logs at INFO several times a post.
            structlog.stdlib.filter_by_level,
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared[:1], structlog.stdlib.ExtraAdder(), drop_color_message,
                           *shared[1:]],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            # Tracebacks become text before redaction, in both formats, so no secret escapes.
            structlog.processors.format_exc_info,
            redact_secret_paths,
            *((structlog.processors.JSONRenderer(ensure_ascii=False),) if renderer_name == "json"
              else (drop_nulls, structlog.dev.ConsoleRenderer(colors=_colors_ok(),
                                                              timestamp_key="ts"))),
        ],
    )
    handler: logging.Handler = (
        _file_handler(log_file) if log_file is not None else _CurrentStderrHandler()
    )
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "alembic", "sqlalchemy"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    # The access log is replaced by our own request log line, which carries the six fields.
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def _colors_ok() -> bool:
    """Colours on a terminal unless NO_COLOR is set (https://no-color.org)."""
    try:
        return sys.stderr.isatty() and not os.environ.get("NO_COLOR")
    except (AttributeError, ValueError):
        return False


def get_logger(name: str | None = None) -> structlog.stdlib.BoundLogger:
    """A structlog logger; event names are dotted lower-case words."""
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name)
    return logger
