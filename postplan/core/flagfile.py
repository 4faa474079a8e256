"""The flags file: a flagd-format JSON document, validated for postplan's boolean flags, and
what the CLI reads out of a flag (its allowlist and rollout percentage).

Evaluation itself is `openfeature-flagd-core`'s (see `flags_provider`); this module only parses,
checks and describes documents, so the CLI can edit a file without running a provider.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

from openfeature.contrib.tools.flagd.core import FlagdCore
from openfeature.evaluation_context import EvaluationContext

#: Largest flags file accepted; a flag file is a few hundred bytes, anything huge is a mistake.
MAX_FILE_BYTES = 1_048_576


class FlagConfigError(ValueError):
    """The flags document is not valid flagd JSON for postplan's boolean flags."""


def parse_flag_document(text: str) -> dict[str, Any]:
    """Parse and validate a flagd JSON document; raises `FlagConfigError` with a reason.

    Beyond flagd's own checks, every variant must be a boolean and every targeting rule must
    evaluate without error for a sample user, so a typo is caught at load, not per request.
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FlagConfigError(f"not JSON: {exc.msg} at line {exc.lineno}") from None
    if not isinstance(data, dict) or not isinstance(data.get("flags"), dict):
        raise FlagConfigError('the document must be an object with a "flags" object')
    for key, flag in data["flags"].items():
        if not isinstance(flag, dict):
            raise FlagConfigError(f"{key}: must be an object")
        variants = flag.get("variants")
        if not isinstance(variants, dict) or not variants:
            raise FlagConfigError(f"{key}: variants must be a non-empty object")
        if not all(isinstance(v, bool) for v in variants.values()):
            raise FlagConfigError(f"{key}: every variant must be true or false")
        default = flag.get("defaultVariant")
        if default is not None and default not in variants:
            raise FlagConfigError(f"{key}: defaultVariant {default!r} is not a variant")
        for rule in _fractional_rules(flag.get("targeting")):
            _check_fractional(key, rule, variants)
    core = build_core(data)
    for key in data["flags"]:
        for sample in ("postplan-validate", ""):
            ctx = EvaluationContext(targeting_key=sample or None)
            try:
                core.resolve_boolean_value(key, False, ctx)
            except Exception as exc:  # flagd-core raises several types; all mean a bad rule
                raise FlagConfigError(f"{key}: targeting does not evaluate: {exc}") from None
    return data


#: flagd's limit for the sum of a `fractional` rule's weights (a signed 32-bit integer).
MAX_WEIGHT_SUM = 2_147_483_647


def _fractional_rules(node: Any) -> list[Any]:
    """The argument of every `fractional` operator anywhere in a targeting rule."""
    found: list[Any] = []
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if "fractional" in item:
                found.append(item["fractional"])
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def _check_fractional(key: str, rule: Any, variants: Mapping[str, Any]) -> None:
    """A `fractional` rule must be `[bucketBy?, [variant, weight], …]` with whole, non-negative
    weights that sum to more than 0.

    flagd-core clamps a negative weight to 0 instead of refusing it: `[["on", 10],
    ["off", -90]]` reads like a 10 % rollout and turns the flag on for everyone. A float
    weight, a string, or an unknown variant is refused too: each is a typo, not a rollout."""
    if not isinstance(rule, list) or not rule:
        raise FlagConfigError(f"{key}: fractional must be a non-empty list")
    fractions = rule[1:] if not isinstance(rule[0], list) else rule
    if not fractions:
        raise FlagConfigError(f"{key}: fractional names no variants")
    total = 0
    for fraction in fractions:
        if not isinstance(fraction, list) or not 1 <= len(fraction) <= 2:
            raise FlagConfigError(f"{key}: each fractional entry must be [variant, weight]")
        variant = fraction[0]
        if not isinstance(variant, str) or variant not in variants:
            raise FlagConfigError(f"{key}: fractional variant {variant!r} is not a variant")
        weight = fraction[1] if len(fraction) == 2 else 1
        if isinstance(weight, bool) or not isinstance(weight, int) or weight < 0:
            raise FlagConfigError(f"{key}: fractional weight of {variant!r} must be a whole "
                                  f"number >= 0, got {weight!r}")
        total += weight
    if total <= 0:
        raise FlagConfigError(f"{key}: fractional weights must add up to more than 0")
    if total > MAX_WEIGHT_SUM:
        raise FlagConfigError(f"{key}: fractional weights add up to more than {MAX_WEIGHT_SUM}")


def build_core(data: Mapping[str, Any]) -> FlagdCore:
    core = FlagdCore()
    try:
        # flagd-core mutates the dicts it is given; hand it a private copy.
        core.set_flags(json.loads(json.dumps(data)))
    except Exception as exc:
        raise FlagConfigError(f"invalid flagd configuration: {exc}") from None
    return core


def flag_can_be_on(flag: Mapping[str, Any]) -> bool:
    """True when some user may see the flag on: enabled, and default on or targeting present."""
    if flag.get("state") != "ENABLED":
        return False
    variants = flag.get("variants") or {}
    if variants.get(flag.get("defaultVariant")) is True:
        return True
    return bool(flag.get("targeting"))


def _operands(node: Any, operator: str) -> Iterator[Any]:
    """The argument of every `operator` anywhere in a JSONLogic rule, outermost first."""
    if isinstance(node, dict):
        if operator in node:
            yield node[operator]
        for value in node.values():
            yield from _operands(value, operator)
    elif isinstance(node, list):
        for value in node:
            yield from _operands(value, operator)


def allowlist_of(flag: Mapping[str, Any]) -> list[str]:
    """User ids in the flag's `{"in": [{"var": "targetingKey"}, [...]]}` rule, if any."""
    found: list[str] = []
    for rule in _operands(flag.get("targeting") or {}, "in"):
        if (isinstance(rule, list) and len(rule) == 2 and rule[0] == {"var": "targetingKey"}
                and isinstance(rule[1], list)):
            found.extend(str(v) for v in rule[1])
    return found


def percentage_of(flag: Mapping[str, Any]) -> float | None:
    """The share (0–100) of the `on` variant in the flag's `fractional` rule, if any."""
    found: list[float] = []
    for rule in _operands(flag.get("targeting") or {}, "fractional"):
        if isinstance(rule, list):
            pairs = [p for p in rule if isinstance(p, list) and len(p) == 2]
            total = sum(float(p[1]) for p in pairs)
            on = sum(float(p[1]) for p in pairs if p[0] == "on")
            if total > 0:
                found.append(100.0 * on / total)
    return found[0] if found else None
