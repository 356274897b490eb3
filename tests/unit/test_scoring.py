"""The calling-order rules in isolation: settings layers, the priority cap, the booked place."""

from __future__ import annotations

import datetime as dt

import pytest

from core.queue.scoring import (
    CAPPED_KINDS,
    DEFAULT_WEIGHTS,
    Candidate,
    QueueRules,
    rank,
    rules_from,
    score,
    waited_minutes,
)

NOW = dt.datetime(2026, 12, 7, 5, 0, tzinfo=dt.UTC)  # 10:30 in Kolkata


def ago(minutes: float) -> dt.datetime:
    return NOW - dt.timedelta(minutes=minutes)


def tokens(*kinds: str, waited: float = 10) -> list[Candidate]:
    """Candidates of ``kinds``, all issued ``waited`` minutes ago (ids in the given order)."""
    return [Candidate(i + 1, kind, ago(waited)) for i, kind in enumerate(kinds)]


def kinds_of(order: list[Candidate]) -> list[str]:
    return [c.kind for c in order]


# --- rules_from -------------------------------------------------------------------------------


def test_no_settings_give_the_documented_defaults():
    rules = rules_from(None, {})
    assert rules == QueueRules()
    assert dict(rules.weights) == dict(DEFAULT_WEIGHTS)
    assert (rules.cap_every, rules.eta_shift_minutes, rules.near_turn_position) == (3, 15, 3)
    assert rules.capped == CAPPED_KINDS == {"vip", "priority", "lab_return"}


def test_department_settings_override_the_tenants():
    tenant = {"cap_every": 4, "wait_penalty_per_minute": 2, "priority_weights": {"vip": 40}}
    department = {"cap_every": 2, "priority_weights": {"follow_up": 9}}
    rules = rules_from(tenant, department)
    assert rules.cap_every == 2
    assert rules.wait_penalty_per_minute == 2.0
    assert (rules.weights["vip"], rules.weights["follow_up"]) == (40.0, 9.0)


@pytest.mark.parametrize(
    ("name", "bad"),
    [
        ("cap_every", 0),
        ("cap_every", 101),
        ("cap_every", "3"),
        ("cap_every", True),
        ("cap_every", None),
        ("wait_penalty_per_minute", 0),
        ("wait_penalty_per_minute", -1),
        ("wait_penalty_per_minute", float("nan")),
        ("wait_penalty_per_minute", float("inf")),
        ("eta_shift_minutes", 241),
        ("near_turn_position", -1),
        ("rolling_window", 0),
        ("default_pause_minutes", 500),
        ("load_factor_per_waiting", -0.5),
    ],
)
def test_malformed_or_out_of_range_knob_falls_back_to_the_default(name, bad):
    assert getattr(rules_from({name: bad}), name) == getattr(QueueRules(), name)


def test_bad_department_value_keeps_the_tenants_valid_one():
    assert rules_from({"cap_every": 5}, {"cap_every": -2}).cap_every == 5


def test_in_range_knobs_are_taken_including_the_bounds():
    rules = rules_from({"cap_every": 1, "near_turn_position": 0, "eta_shift_minutes": 240})
    assert (rules.cap_every, rules.near_turn_position, rules.eta_shift_minutes) == (1, 0, 240)


def test_emergency_weight_cannot_be_changed_and_unknown_kinds_are_ignored():
    rules = rules_from(
        {"priority_weights": {"emergency": 0, "vip": "lots", "queue_jumper": 500, "booked": 20}}
    )
    assert rules.weights["emergency"] == DEFAULT_WEIGHTS["emergency"]
    assert rules.weights["vip"] == DEFAULT_WEIGHTS["vip"]
    assert "queue_jumper" not in rules.weights
    assert rules.weights["booked"] == 20.0


def test_priority_weights_that_are_not_a_mapping_are_ignored():
    assert dict(rules_from({"priority_weights": [["vip", 99]]}).weights) == dict(DEFAULT_WEIGHTS)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_non_finite_priority_weight_falls_back_to_the_default(bad):
    assert rules_from({"priority_weights": {"vip": bad}}).weights["vip"] == DEFAULT_WEIGHTS["vip"]


# --- score and waited_minutes ----------------------------------------------------------------


def test_score_is_weight_plus_penalty_times_wait_plus_load():
    assert score("follow_up", 12, DEFAULT_WEIGHTS, wait_penalty=2, load_factor=3) == 5 + 24 + 3
    assert score("unknown", 7, DEFAULT_WEIGHTS) == 7


def test_booked_patient_early_waits_from_the_slot_time():
    slot = NOW + dt.timedelta(minutes=10)
    early = Candidate(1, "booked", ago(30), target_at=slot)  # checked in 40 min before the slot
    assert waited_minutes(early, NOW) == -10
    assert waited_minutes(early, slot + dt.timedelta(minutes=5)) == 5


def test_booked_patient_late_gets_no_credit_for_lateness():
    late = Candidate(1, "booked", ago(5), target_at=ago(35))  # checked in 30 min after the slot
    assert waited_minutes(late, NOW) == 5


def test_walk_in_waits_from_issue():
    assert waited_minutes(Candidate(1, "walk_in", ago(12.5)), NOW) == 12.5


# --- rank -------------------------------------------------------------------------------------


def test_emergency_goes_first_even_over_a_much_longer_wait_and_a_huge_weight():
    rules = rules_from({"priority_weights": {"vip": 5000}})
    old = Candidate(1, "walk_in", ago(600))
    vip = Candidate(2, "vip", ago(300))
    emergency = Candidate(3, "emergency", NOW)
    assert [c.id for c in rank([old, vip, emergency], NOW, rules)] == [3, 2, 1]


def test_two_emergencies_go_first_even_right_after_a_capped_call():
    cands = [*tokens("vip", "walk_in"), Candidate(3, "emergency", ago(1))]
    cands.append(Candidate(4, "emergency", NOW))
    order = rank(cands, NOW, QueueRules(), recent_kinds=("vip",))
    assert [c.id for c in order[:2]] == [3, 4]  # the older emergency first, neither capped


@pytest.mark.parametrize(
    ("recent", "first"),
    [
        ((), "vip"),
        (("walk_in", "walk_in"), "vip"),
        (("vip",), "walk_in"),
        (("walk_in", "lab_return"), "walk_in"),  # still inside the last cap_every - 1 calls
        (("walk_in", "walk_in", "vip"), "vip"),  # older than the window: no longer counts
        (("emergency", "emergency"), "vip"),  # emergencies never use up the cap
    ],
)
def test_cap_window_looks_at_the_last_cap_every_minus_one_calls(recent, first):
    cands = tokens("vip", "walk_in")
    assert rank(cands, NOW, QueueRules(), recent_kinds=recent)[0].kind == first


def test_cap_spaces_priority_kinds_one_in_every_cap_every_calls():
    cands = tokens("vip", "priority", "lab_return", "vip", "walk_in", "walk_in", "follow_up")
    order = kinds_of(rank(cands, NOW, QueueRules(cap_every=3)))
    capped = [k in CAPPED_KINDS for k in order]
    # weights lift the capped kinds to the top; the cap lets one through per three calls,
    # then, with nobody else waiting, the rest go back to back (the doctor never idles)
    assert capped == [True, False, False, True, False, True, True]
    assert kinds_of(rank(cands, NOW, QueueRules(cap_every=1)))[:4] == [
        "vip",
        "priority",
        "lab_return",
        "vip",
    ]


def test_only_capped_tokens_waiting_are_all_ranked():
    order = rank(tokens("vip", "priority", "lab_return"), NOW, QueueRules(), recent_kinds=("vip",))
    assert [c.id for c in order] == [1, 2, 3]


def test_capped_token_behind_a_free_one_does_not_jump_it():
    walk_in = Candidate(1, "walk_in", ago(60))  # 60 > 30 + 10
    vip = Candidate(2, "vip", ago(10))
    assert [c.id for c in rank([vip, walk_in], NOW, QueueRules())] == [1, 2]


@pytest.mark.parametrize("penalty", [0.5, 1, 3])
@pytest.mark.parametrize("newer_kind", ["vip", "priority", "lab_return", "booked", "follow_up"])
def test_waiting_max_weight_over_penalty_longer_beats_any_newer_kind(penalty, newer_kind):
    rules = rules_from({"wait_penalty_per_minute": penalty, "cap_every": 1})
    lead = max(w for k, w in rules.weights.items() if k != "emergency") / penalty
    newer = Candidate(1, newer_kind, ago(5))
    older = Candidate(2, "walk_in", ago(5 + lead))  # equal score: the earlier issue wins
    assert rank([newer, older], NOW, rules)[0].id == 2
    own_lead = rules.weights[newer_kind] / penalty  # any less and the newer kind is ahead
    just_later = Candidate(2, "walk_in", ago(5 + own_lead - 0.5))
    assert rank([newer, just_later], NOW, rules)[0].id == 1


def test_department_load_factor_lifts_the_busier_departments_tokens():
    quiet = Candidate(1, "walk_in", ago(20), department_id=10)
    busy = Candidate(2, "walk_in", ago(15), department_id=20)
    assert rank([quiet, busy], NOW, QueueRules())[0].id == 1
    assert rank([quiet, busy], NOW, QueueRules(), load_factors={20: 6})[0].id == 2


def test_plain_weights_mapping_is_accepted_as_rules():
    order = rank(tokens("walk_in", "follow_up"), NOW, {"walk_in": 0, "follow_up": 50})
    assert kinds_of(order) == ["follow_up", "walk_in"]


def _doctor_state(**overrides):
    from core.queue.line import DoctorState

    values = {
        "doctor_id": 1,
        "department_id": 1,
        "room": "Room 1",
        "slot_minutes": 30,
        "performance_weight": 1.0,
        "session_status": "active",
        "paused_until": None,
        "delay_until": None,
        "avg_minutes": 30.0,
        "current_started_at": None,
        "called": 0,
        "waiting": 2,
        "served_today": 0,
        "recent_kinds": (),
    }
    return DoctorState(**{**values, **overrides})


def test_a_patient_back_from_the_lab_goes_in_first_and_pushes_the_line_back():
    from core.queue.eta_projection import Waiting, project

    now = dt.datetime(2026, 12, 7, 4, 0, tzinfo=dt.UTC)
    waiting = [
        Waiting(Candidate(i, "walk_in", now - dt.timedelta(minutes=10 - i)), 1, 1) for i in (1, 2)
    ]
    rules = QueueRules()
    alone = project(waiting, [_doctor_state()], now, rules)
    assert [alone[i].minutes for i in (1, 2)] == [0, 30]
    # back in 20 min: token 1 is seen now (0-30), the lab patient next (30-60), token 2 at 60
    back = project(waiting, [_doctor_state()], now, rules, returning={1: [20.0]})
    assert [back[i].minutes for i in (1, 2)] == [0, 60]
    assert back[2].ahead == 2  # token 1 and the lab patient
