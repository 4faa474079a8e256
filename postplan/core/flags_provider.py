"""An OpenFeature provider over a flagd-format JSON file, with environment values as bootstrap.

Evaluation is delegated to `openfeature-flagd-core` (the flagd reference evaluator, pure Python):
JSONLogic `if`/`in`/`var`/`==`, and `fractional`, which buckets murmur3 (mmh3, unsigned 32 bit)
of the CBOR encoding of `[flagKey, targetingKey]` — the same user lands in the same bucket in
every process, and widening a rollout only adds users.

Precedence, per flag: a flag present in the last good file wins; otherwise the environment value
read at start; otherwise OFF. A file that stops parsing keeps the last good values in use.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode
from openfeature.flag_evaluation import FlagResolutionDetails, FlagValueType, Reason
from openfeature.provider import AbstractProvider, Metadata

from postplan.core.flagfile import (
    MAX_FILE_BYTES,
    FlagConfigError,
    allowlist_of,
    build_core,
    parse_flag_document,
)
from postplan.core.logging import get_logger

log = get_logger("postplan.flags")


def _drop_anonymous_fractional(record: logging.LogRecord) -> bool:
    # flagd-core logs an error whenever `fractional` meets a request without a user id; for us
    # that is normal (no user → the default variant), so it must not look like a fault.
    message = record.getMessage()
    return not ("targetingKey provided for fractional" in message
                or message == "No hashKey value resolved")


logging.getLogger("openfeature.contrib").addFilter(_drop_anonymous_fractional)


@dataclass(frozen=True)
class FileStatus:
    """What the provider knows about its file (shown by `GET /v1/flags` and the CLI)."""

    path: str | None
    state: str  # "none" (no FLAGS_FILE), "missing", "ok", "invalid"
    # path: the file, or "database" when the document lives in `flag_definitions`
    error: str | None = None
    loaded_at: float | None = None
    checked_at: float | None = None
    sha256: str | None = None
    revision: int | None = None  # the database's revision of the document in use


@dataclass(frozen=True)
class _Snapshot:
    core: FlagdCore | None
    flags: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


class FileFlagProvider(AbstractProvider):
    """Boolean flags from a flagd JSON file, re-read by `refresh()`; env values as fallback."""

    def __init__(self, env_defaults: Mapping[str, bool], path: Path | None, *,
                 quiet: bool = False, origin: str | None = None) -> None:
        super().__init__()
        # quiet: a one-shot CLI read, where file events are not news for the service log.
        self._log: Any = _NullLog() if quiet else log
        self._env = dict(env_defaults)
        self._path = path
        # origin: where documents handed to `apply` come from when there is no file to read
        # ("database" on Postgres); it names the source in statuses and decisions.
        self._origin = origin
        self._label = str(path) if path else origin
        self._lock = threading.Lock()
        self._snapshot = _Snapshot(core=None)
        self._seen_digest: str | None = None
        self._status = FileStatus(path=self._label,
                                  state="none" if self._label is None else "missing")

    # --- file handling -------------------------------------------------------------------

    @property
    def status(self) -> FileStatus:
        """The file's state after the latest `refresh()`."""
        return self._status

    def source_of(self, key: str) -> str:
        """`file` (or the origin, e.g. `database`) when the last good document defines `key`,
        else `env`."""
        if key not in self._snapshot.flags:
            return "env"
        return self._origin or "file"

    def env_value(self, key: str) -> bool:
        """The value the environment gave `key` at start (unset is OFF)."""
        return bool(self._env.get(key, False))

    def definition(self, key: str) -> Mapping[str, Any] | None:
        """The flag's definition in the last good file, if any."""
        return self._snapshot.flags.get(key)

    def refresh(self) -> bool:
        """Re-read the file if its content changed. Returns True when the values in use changed.

        A missing file means "no file overrides": the environment values apply again. A file that
        does not validate keeps the last good values and marks the status `invalid`.
        """
        if self._path is None:
            return False
        try:
            raw: bytes | None = self._path.read_bytes()[: MAX_FILE_BYTES + 1]
        except FileNotFoundError:
            raw = None
        except OSError as exc:
            with self._lock:
                return self._set_invalid(time.time(), None,
                                         f"unreadable: {exc.strerror or exc}")
        return self.apply(raw)

    def apply_unchanged(self, revision: int) -> None:
        """Note a check that found the same revision (only `checkedAt` moves)."""
        self._status = _replace(self._status, checked_at=time.time(), revision=revision)

    def apply(self, raw: bytes | None, revision: int | None = None) -> bool:
        """Take `raw` as the current document (None: there is none, the environment values
        apply). Same rules as a file: unchanged content is a no-op, an invalid document keeps the
        last good values. `revision` is the database's, shown in the status."""
        now = time.time()
        with self._lock:
            if raw is None:
                return self._set_missing(now)
            digest = hashlib.sha256(raw).hexdigest()
            if digest == self._seen_digest:
                self._status = _replace(self._status, checked_at=now, revision=revision)
                return False
            self._seen_digest = digest
            try:
                if len(raw) > MAX_FILE_BYTES:
                    raise FlagConfigError(f"larger than {MAX_FILE_BYTES} bytes")
                data = parse_flag_document(raw.decode("utf-8"))
            except (FlagConfigError, UnicodeDecodeError) as exc:
                return self._set_invalid(now, digest, str(exc))
            old = self._snapshot.flags
            recovered = self._status.state == "invalid"
            self._snapshot = _Snapshot(core=build_core(data), flags=dict(data["flags"]))
            self._status = FileStatus(path=self._label, state="ok", loaded_at=now,
                                      checked_at=now, sha256=digest, revision=revision)
        changed = sorted(k for k in set(old) | set(data["flags"])
                         if old.get(k) != data["flags"].get(k))
        self._log.info("flags.file_loaded", path=self._label, changedFlags=changed,
                       sha256=digest[:12], revision=revision)
        if recovered:
            self.emit_provider_ready(ProviderEventDetails(message="flags file valid again"))
        self._emit_changed(changed)
        return bool(changed)

    def _set_missing(self, now: float) -> bool:
        had = bool(self._snapshot.flags)
        was_missing = self._status.state == "missing" and self._seen_digest == "missing"
        self._snapshot = _Snapshot(core=None)
        self._seen_digest = "missing"
        self._status = FileStatus(path=self._label, state="missing", checked_at=now)
        if not was_missing:
            self._log.warning("flags.file_missing", path=self._label,
                        detail="no flags file: environment values apply")
        if had:
            self._emit_changed([])
        return had

    def _set_invalid(self, now: float, digest: str | None, error: str) -> bool:
        repeated = self._status.state == "invalid" and self._status.error == error
        self._status = FileStatus(path=self._label, state="invalid", error=error,
                                  loaded_at=self._status.loaded_at, checked_at=now,
                                  sha256=self._status.sha256, revision=self._status.revision)
        if repeated:
            return False
        self._log.error("flags.file_invalid", path=self._label, error=error,
                  detail="keeping the last good flag values")
        # STALE: evaluations go on with the last good values (the SDK only refuses when
        # NOT_READY or FATAL).
        self.emit_provider_stale(ProviderEventDetails(message=error))
        return False

    def _emit_changed(self, keys: Sequence[str]) -> None:
        self.emit_provider_configuration_changed(
            ProviderEventDetails(flags_changed=list(keys), message="flags file reloaded"))

    # --- OpenFeature provider interface -------------------------------------------------

    def get_metadata(self) -> Metadata:
        """Provider name shown in OpenFeature evaluation details."""
        return Metadata(name="postplan-flagd-file")

    def resolve_boolean_details(
        self, flag_key: str, default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        """File definition first, then the environment value, else the caller's default."""
        snapshot = self._snapshot
        if snapshot.core is not None and flag_key in snapshot.flags:
            try:
                result = snapshot.core.resolve_boolean_value(flag_key, default_value,
                                                             evaluation_context)
            except Exception as exc:  # a rule that fails for this user fails closed
                return FlagResolutionDetails(default_value, error_code=ErrorCode.GENERAL,
                                             error_message=str(exc), reason=Reason.ERROR,
                                             flag_metadata={"source": "file"})
            result.flag_metadata = {**dict(result.flag_metadata), "source": "file"}
            if result.reason == Reason.TARGETING_MATCH and _is_fractional_only(
                    snapshot.flags[flag_key], evaluation_context):
                result.reason = Reason.SPLIT
            return result
        if flag_key in self._env:
            value = self._env[flag_key]
            return FlagResolutionDetails(value, variant="on" if value else "off",
                                         reason=Reason.STATIC, flag_metadata={"source": "env"})
        return FlagResolutionDetails(default_value, error_code=ErrorCode.FLAG_NOT_FOUND,
                                     error_message=f"unknown flag {flag_key}",
                                     reason=Reason.ERROR)

    def resolve_string_details(
        self, flag_key: str, default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        """postplan flags are boolean only."""
        return _type_mismatch(default_value)

    def resolve_integer_details(
        self, flag_key: str, default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        """postplan flags are boolean only."""
        return _type_mismatch(default_value)

    def resolve_float_details(
        self, flag_key: str, default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        """postplan flags are boolean only."""
        return _type_mismatch(default_value)

    def resolve_object_details(
        self, flag_key: str,
        default_value: Sequence[FlagValueType] | Mapping[str, FlagValueType],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[FlagValueType] | Mapping[str, FlagValueType]]:
        """postplan flags are boolean only."""
        return _type_mismatch(default_value)


class _NullLog:
    """Swallows log calls (same call shape as a structlog logger)."""

    def info(self, *_: Any, **__: Any) -> None:
        return None

    warning = error = info


def _type_mismatch(default: Any) -> FlagResolutionDetails[Any]:
    return FlagResolutionDetails(default, error_code=ErrorCode.TYPE_MISMATCH,
                                 error_message="postplan flags are boolean",
                                 reason=Reason.ERROR)


def _is_fractional_only(flag: Mapping[str, Any], ctx: EvaluationContext | None) -> bool:
    """True when the user's result came from the percentage bucket, not the allowlist."""
    allow = allowlist_of(flag)
    user = ctx.targeting_key if ctx else None
    return "fractional" in json.dumps(flag.get("targeting") or {}) and user not in allow


def _replace(status: FileStatus, **changes: Any) -> FileStatus:
    values = {**status.__dict__, **changes}
    return FileStatus(**values)
