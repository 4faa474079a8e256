"""The publish intent state machine as a pure transition table.

Every status change the service makes is one of the edges below; storage turns each edge into a
conditional UPDATE on (id, claim_token, expected status), so a worker that lost its claim writes
nothing. `submitting` is committed *before* the irreversible platform call: a crash after it can
only be resolved by reconciling with the platform, never by sending again.
"""

from __future__ import annotations

from enum import StrEnum


class IntentStatus(StrEnum):
    """Where a publish intent is (stored as a plain string in `publish_intents.status`)."""

    dry_run = "dry_run"
    pending = "pending"
    claimed = "claimed"
    submitting = "submitting"
    processing = "processing"
    published = "published"
    failed = "failed"
    needs_reauth = "needs_reauth"
    unknown = "unknown"
    cancelled = "cancelled"


S = IntentStatus


class Event(StrEnum):
    """What happened to an intent; together with its status it names the next status."""

    claim = "claim"                      # a worker took a due intent
    release = "release"                  # a worker gave it back untouched (flag off, shutdown)
    submit = "submit"                    # about to make the irreversible call (committed first)
    accepted = "accepted"                # the platform took it and is processing
    published = "published"              # the platform says it is live
    retry_later = "retry_later"          # definitely not sent; try again after a delay
    permanent_failure = "permanent_failure"
    auth_failed = "auth_failed"          # token refused and a refresh did not help
    outcome_unknown = "outcome_unknown"  # sent, answer lost: reconcile, never resend
    lease_expired = "lease_expired"      # the owner vanished mid-call
    reconciled_not_sent = "reconciled_not_sent"  # the platform proved nothing was posted
    cancel = "cancel"


#: (from status, event) → to status. Anything not listed is refused.
TRANSITIONS: dict[tuple[IntentStatus, Event], IntentStatus] = {
    (S.pending, Event.claim): S.claimed,
    (S.pending, Event.cancel): S.cancelled,
    (S.claimed, Event.release): S.pending,
    (S.claimed, Event.submit): S.submitting,
    (S.claimed, Event.retry_later): S.pending,
    (S.claimed, Event.permanent_failure): S.failed,
    (S.claimed, Event.auth_failed): S.needs_reauth,
    (S.claimed, Event.lease_expired): S.claimed,  # nothing irreversible happened yet
    (S.claimed, Event.cancel): S.cancelled,
    (S.submitting, Event.accepted): S.processing,
    (S.submitting, Event.published): S.published,
    (S.submitting, Event.retry_later): S.pending,
    (S.submitting, Event.permanent_failure): S.failed,
    (S.submitting, Event.auth_failed): S.needs_reauth,
    (S.submitting, Event.outcome_unknown): S.unknown,
    (S.submitting, Event.lease_expired): S.unknown,
    (S.processing, Event.accepted): S.processing,  # still processing: poll again later
    (S.processing, Event.published): S.published,
    (S.processing, Event.permanent_failure): S.failed,
    (S.processing, Event.auth_failed): S.needs_reauth,
    (S.processing, Event.outcome_unknown): S.unknown,
    (S.processing, Event.lease_expired): S.processing,
    (S.unknown, Event.accepted): S.processing,
    (S.unknown, Event.published): S.published,
    (S.unknown, Event.permanent_failure): S.failed,
    (S.unknown, Event.outcome_unknown): S.unknown,
    (S.unknown, Event.reconciled_not_sent): S.pending,
    (S.unknown, Event.auth_failed): S.unknown,  # cannot ask the platform yet; stays unclear
    (S.needs_reauth, Event.cancel): S.cancelled,
    (S.failed, Event.cancel): S.failed,
}

#: Statuses after which nothing more happens to an intent.
TERMINAL = frozenset({S.published, S.failed, S.needs_reauth, S.cancelled, S.dry_run})

#: A live intent in one of these blocks a second live intent for the same entry and channel.
LIVE = frozenset({S.pending, S.claimed, S.submitting, S.processing, S.published, S.unknown})


class IllegalTransition(Exception):
    """An edge the state machine does not have; a programming error, never user input."""

    def __init__(self, status: IntentStatus, event: Event) -> None:
        super().__init__(f"no transition from {status.value} on {event.value}")
        self.status = status
        self.event = event


def next_status(status: IntentStatus | str, event: Event) -> IntentStatus:
    """The status an intent moves to when `event` happens in `status`."""
    current = IntentStatus(status)
    try:
        return TRANSITIONS[(current, event)]
    except KeyError:
        raise IllegalTransition(current, event) from None


def is_terminal(status: IntentStatus | str) -> bool:
    """Whether nothing more will happen to an intent in `status`."""
    return IntentStatus(status) in TERMINAL
