"""A Hypothesis state machine of the publish intent life cycle (postplan/publishing/states.py).

The model drives one intent through every edge the transition table allows, the way a worker
does, and lets Hypothesis interleave: claims, the commit of `submitting` before the platform
call, platform answers (accepted, published, definite rejections, auth errors), answers lost
after the platform acted or before it did, worker crashes (lease expiry) at any point,
reconciliation against the platform, retries and cancels. A platform double counts posts.

Invariants after every step:
* the platform holds at most one post for the intent (no double post, whatever the schedule);
* a `published` intent has exactly one post;
* terminal statuses stay terminal (only the explicit cancel no-op on `failed` is allowed);
* an intent can return to `pending` after `submitting` only through an event that proves
  nothing was sent (`retry_later` on a definite pre-send rejection, `reconciled_not_sent`);
* every status the machine can reach is either terminal or can still reach a terminal status.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from postplan.publishing.states import (
    TERMINAL,
    TRANSITIONS,
    Event,
    IllegalTransition,
    IntentStatus,
    is_terminal,
    next_status,
)

pytestmark = pytest.mark.faults

S = IntentStatus
#: Events that may lead from an in-flight status back to `pending` (a new send).
PROVEN_NOT_SENT = {Event.retry_later, Event.reconciled_not_sent, Event.release}


def reachable_terminal(start: IntentStatus) -> bool:
    seen = {start}
    frontier = [start]
    while frontier:
        status = frontier.pop()
        if status in TERMINAL or status is S.unknown:
            return True
        for (src, _event), dst in TRANSITIONS.items():
            if src is status and dst not in seen:
                seen.add(dst)
                frontier.append(dst)
    return False


class IntentLifecycle(RuleBasedStateMachine):
    """One intent, one worker at a time (a crash hands it to the next), one platform."""

    @initialize()
    def start(self) -> None:
        self.status = S.pending
        self.posts = 0  # what the platform did
        self.sent_this_claim = False  # the worker's request left the process
        self.handle_known = False  # platform handle (publish_id / container) stored
        self.history: list[tuple[str, str]] = []

    def apply(self, event: Event) -> None:
        before = self.status
        after = next_status(before, event)
        if before in (S.submitting, S.processing, S.unknown) and after is S.pending:
            assert event in PROVEN_NOT_SENT, (before, event)
        self.history.append((event.value, after.value))
        self.status = after

    # -- the worker ----------------------------------------------------------------------

    @precondition(lambda self: self.status is S.pending)
    @rule()
    def claim(self) -> None:
        self.apply(Event.claim)
        self.sent_this_claim = False

    @precondition(lambda self: self.status is S.claimed)
    @rule()
    def release(self) -> None:
        self.apply(Event.release)

    @precondition(lambda self: self.status is S.claimed)
    @rule()
    def submit(self) -> None:
        # `submitting` is committed before the request goes out.
        self.apply(Event.submit)

    @precondition(lambda self: self.status is S.claimed)
    @rule(kind=st.sampled_from([Event.retry_later, Event.permanent_failure,
                                Event.auth_failed]))
    def preflight_fails(self, kind: Event) -> None:
        self.apply(kind)

    @precondition(lambda self: self.status is S.submitting and not self.sent_this_claim)
    @rule(answer=st.sampled_from(["published", "accepted", "rejected_retryable",
                                  "rejected_permanent", "auth", "lost_after_post",
                                  "lost_before_post"]))
    def platform_call(self, answer: str) -> None:
        if answer in ("published", "accepted", "lost_after_post"):
            self.posts += 1  # the platform acted
            self.sent_this_claim = True
        if answer == "published":
            self.handle_known = True
            self.apply(Event.published)
        elif answer == "accepted":
            self.handle_known = True
            self.apply(Event.accepted)
        elif answer == "rejected_retryable":  # 429/5xx answered before acceptance
            self.apply(Event.retry_later)
        elif answer == "rejected_permanent":
            self.apply(Event.permanent_failure)
        elif answer == "auth":
            self.apply(Event.auth_failed)
        else:  # the answer was lost: the worker cannot tell whether the post exists
            self.sent_this_claim = True
            self.apply(Event.outcome_unknown)

    @precondition(lambda self: self.status is S.processing)
    @rule(answer=st.sampled_from(["published", "still", "failed", "auth", "lost"]))
    def poll(self, answer: str) -> None:
        self.apply({"published": Event.published, "still": Event.accepted,
                    "failed": Event.permanent_failure, "auth": Event.auth_failed,
                    "lost": Event.outcome_unknown}[answer])

    @precondition(lambda self: self.status in (S.claimed, S.submitting, S.processing))
    @rule()
    def crash(self) -> None:
        # SIGKILL: the lease runs out, the next worker applies `lease_expired`.
        self.sent_this_claim = self.status is not S.claimed
        self.apply(Event.lease_expired)

    @precondition(lambda self: self.status is S.unknown)
    @rule()
    def reconcile(self) -> None:
        # Ask the platform. It knows whether it posted (IG container status; TikTok only
        # with a stored publish_id — otherwise it stays unknown for a human).
        if self.posts:
            self.apply(Event.published)
        else:
            self.apply(Event.reconciled_not_sent)
            self.sent_this_claim = False

    @precondition(lambda self: self.status in (S.pending, S.claimed, S.needs_reauth, S.failed))
    @rule()
    def cancel(self) -> None:
        self.apply(Event.cancel)

    @rule(event=st.sampled_from(list(Event)))
    def illegal_edges_are_refused(self, event: Event) -> None:
        if (self.status, event) in TRANSITIONS:
            return
        with pytest.raises(IllegalTransition):
            next_status(self.status, event)

    # -- what must hold ------------------------------------------------------------------

    @invariant()
    def never_two_posts(self) -> None:
        assert self.posts <= 1, self.history

    @invariant()
    def published_means_posted(self) -> None:
        if self.status is S.published:
            assert self.posts == 1, self.history

    @invariant()
    def terminal_is_absorbing(self) -> None:
        if is_terminal(self.status):
            for (src, event), dst in TRANSITIONS.items():
                if src is self.status:
                    assert event is Event.cancel and dst in TERMINAL, (src, event, dst)

    @invariant()
    def can_still_finish(self) -> None:
        assert reachable_terminal(self.status), self.status


IntentLifecycle.TestCase.settings = settings(
    max_examples=200, stateful_step_count=30, deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestIntentLifecycle = IntentLifecycle.TestCase


def test_every_status_is_in_the_table_or_terminal() -> None:
    sources = {src for src, _ in TRANSITIONS}
    for status in S:
        assert status in sources or status in TERMINAL, status
