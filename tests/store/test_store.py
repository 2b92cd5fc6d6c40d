"""The store on both databases: schema, idempotent writes, aware timestamps, the attempt log."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import col, select

from ratchet.core.clock import utcnow
from ratchet.core.runs import RunKind, RunState
from ratchet.store import ledger
from ratchet.store.database import Store, read_row, reads_ahead, row_read
from ratchet.store.tables import Event, Run, RunAttempt, Shop, Task


def _event(store: Store, shop_id: str) -> Event:
    with store.session() as session:
        session.add(Shop(id=shop_id, timezone="Europe/Berlin", created_at=utcnow()))
    event = Event(
        id=str(uuid.uuid4()),
        shop_id=shop_id,
        topic="user/a/b",
        data={"k": [1, 2]},
        workflow_id="w",
        created_at=utcnow(),
    )
    with store.session() as session:
        session.add(event)
    return event


def test_default_shop_exists(db_store: Store) -> None:
    with db_store.session() as session:
        assert session.get(Shop, "default") is not None


def test_insert_ignore_never_duplicates(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    run_id = ledger.derived_id("test", event.id)
    row = ledger.new_run_row(
        run_id=run_id, kind=RunKind.event, event=event, parent_id=None, state=RunState.due, run_at=utcnow()
    )
    for _ in range(3):  # a retried or replayed activity writes the same rows again
        with db_store.session() as session:
            db_store.insert_ignore(session, Run, [row])
    with db_store.session() as session:
        assert len(list(session.exec(select(Run).where(Run.event_id == event.id)))) == 1


def test_attempts_are_keyed_by_run_and_number(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    run_id = ledger.derived_id("attempts", event.id)
    with db_store.session() as session:
        db_store.insert_ignore(
            session,
            Run,
            [
                ledger.new_run_row(
                    run_id=run_id, kind=RunKind.action, event=event, parent_id=None, state=RunState.due, run_at=utcnow()
                )
            ],
        )
    with db_store.engine.begin() as conn:
        ledger.begin_attempt(conn, run_id, 1, None)
        first_attempt = ledger.begin_attempt(conn, run_id, 1, None)  # the same attempt replayed
        retry_at = ledger.schedule_retry(conn, first_attempt, "boom", timedelta(seconds=30))
        ledger.fail(conn, ledger.begin_attempt(conn, run_id, 2, None), "boom again")
    with db_store.session() as session:
        attempts = list(session.exec(select(RunAttempt).where(RunAttempt.run_id == run_id)))
        run = session.get(Run, run_id)
    assert sorted(a.attempt for a in attempts) == [1, 2]
    first = next(a for a in attempts if a.attempt == 1)
    assert first.retry_at == retry_at and first.error == "boom"
    assert run is not None and run.state == RunState.failed and run.attempts == 2 and run.ok is False


def test_timestamps_come_back_timezone_aware(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    with db_store.session() as session:
        loaded = session.get(Event, event.id)
    assert loaded is not None and loaded.created_at is not None
    assert loaded.created_at.tzinfo is not None
    assert loaded.created_at == event.created_at
    assert loaded.data == {"k": [1, 2]}
    with pytest.raises(StatementError, match="naive datetimes"), db_store.session() as session:
        session.add(Shop(id=f"naive-{uuid.uuid4().hex[:6]}", created_at=datetime(2026, 1, 1)))


def test_task_names_are_unique_per_shop(db_store: Store) -> None:
    shop = f"s-{uuid.uuid4().hex[:8]}"
    _event(db_store, shop)
    with db_store.session() as session:
        session.add(Task(id=str(uuid.uuid4()), shop_id=shop, name="Same"))
    with pytest.raises(IntegrityError), db_store.session() as session:
        session.add(Task(id=str(uuid.uuid4()), shop_id=shop, name="Same"))
    with db_store.session() as session:
        assert len(list(session.exec(select(Task).where(Task.shop_id == shop)))) == 1


def test_withdrawn_attempt_leaves_no_trace(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    run_id = ledger.derived_id("withdraw", event.id)
    with db_store.session() as session:
        db_store.insert_ignore(
            session,
            Run,
            [
                ledger.new_run_row(
                    run_id=run_id, kind=RunKind.action, event=event, parent_id=None, state=RunState.due, run_at=utcnow()
                )
            ],
        )
    with db_store.engine.begin() as conn:
        ledger.begin_attempt(conn, run_id, 1, None)
        ledger.withdraw_attempt(conn, run_id, 1, "throttled")
    with db_store.session() as session:
        run = session.get(Run, run_id)
        assert run is not None and run.attempts == 0 and run.state == RunState.due
        assert session.get(RunAttempt, (run_id, 1)) is None


def _due_run(store: Store, event: Event, run_id: str, kind: RunKind = RunKind.task) -> None:
    with store.unit() as conn:
        ledger.insert_runs(
            conn,
            [
                ledger.new_run_row(
                    run_id=run_id, kind=kind, event=event, parent_id=None, state=RunState.due, run_at=utcnow()
                )
            ],
        )


def test_outcome_records_its_child_runs_once(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    run_id = ledger.derived_id("children", event.id)
    _due_run(db_store, event, run_id)
    children = [
        ledger.new_run_row(
            run_id=ledger.derived_id(run_id, position),
            kind=RunKind.action,
            event=event,
            parent_id=run_id,
            state=RunState.unscheduled if position else RunState.due,
            run_at=None if position else utcnow(),
            action_type="echo",
            action_options={"n": position, "nested": [None, "ü"]},
            perform_event=position == 0,
            position=position,
        )
        for position in range(2)
    ]
    for _ in range(2):  # a replayed attempt records the same outcome and children again
        with db_store.unit() as conn:
            run = ledger.begin_attempt(conn, run_id, 1, None)
            ledger.succeed(conn, run, {"ok": True}, children=children)
    with db_store.session() as session:
        stored = list(session.exec(select(Run).where(Run.parent_id == run_id).order_by(col(Run.position))))
        parent = session.get(Run, run_id)
        attempt = session.get(RunAttempt, (run_id, 1))
    assert [(r.id, r.state, r.perform_event, r.action_options) for r in stored] == [
        (c["id"], c["state"], c["perform_event"], c["action_options"]) for c in children
    ]
    assert stored[0].run_at == children[0]["run_at"] and stored[1].run_at is None and stored[0].ok is None
    assert parent is not None and parent.state == RunState.succeeded and parent.result == {"ok": True}
    assert attempt is not None and attempt.ok is True and attempt.stopped_at == parent.stopped_at


def test_unknown_run_records_nothing(db_store: Store) -> None:
    event = _event(db_store, f"s-{uuid.uuid4().hex[:8]}")
    gone = ledger.derived_id("gone", event.id)
    child = ledger.new_run_row(
        run_id=ledger.derived_id(gone, 0),
        kind=RunKind.action,
        event=event,
        parent_id=gone,
        state=RunState.due,
        run_at=None,
    )
    with pytest.raises(ledger.RunNotFound), db_store.unit() as conn:
        ledger.begin_attempt(conn, gone, 1, None)
    run = Run.model_construct(id=gone, attempts=1, started_at=utcnow(), task_version=None)
    with pytest.raises(ledger.RunNotFound), db_store.unit() as conn:
        ledger.succeed(conn, run, None, children=[child])
    with db_store.session() as session:
        assert session.get(RunAttempt, (gone, 1)) is None
        assert session.get(Run, child["id"]) is None


def test_reads_ahead_answer_as_the_reads_would(db_store: Store) -> None:
    shop_id = f"s-{uuid.uuid4().hex[:8]}"
    event = _event(db_store, shop_id)
    reads = [row_read(Event, event.id), row_read(Shop, shop_id), row_read(Event, "missing")]
    with db_store.unit() as conn:
        plain = (read_row(conn, Event, event.id), read_row(conn, Shop, shop_id), read_row(conn, Event, "missing"))
    with db_store.unit() as conn, reads_ahead(conn, reads):
        ahead = (read_row(conn, Event, event.id), read_row(conn, Shop, shop_id), read_row(conn, Event, "missing"))
        again = read_row(conn, Event, event.id)  # each result answers once; then the read runs
    assert plain[2] is None and ahead[2] is None
    assert [r.model_dump() for r in plain[:2] if r] == [r.model_dump() for r in ahead[:2] if r]
    assert again is not None and again.model_dump() == ahead[0].model_dump()  # type: ignore[union-attr]


def test_a_write_with_json_values_runs_inside_reads_ahead(db_store: Store) -> None:
    # An event dropped by a store filter is recorded among the event run's reads sent ahead.
    shop_id = f"s-{uuid.uuid4().hex[:8]}"
    event = _event(db_store, shop_id)
    run_id = ledger.derived_id("filtered", event.id)
    _due_run(db_store, event, run_id, RunKind.event)
    result = {"task_run_ids": [], "filtered_by": {"name": "debounce", "lines": [1, 2]}}
    with db_store.unit() as conn, reads_ahead(conn, [row_read(Event, event.id), row_read(Shop, shop_id)]):
        run = ledger.begin_attempt(conn, run_id, 1, None)
        assert read_row(conn, Event, event.id) is not None
        ledger.succeed(conn, run, result)
    with db_store.session() as session:
        stored = session.get(Run, run_id)
    assert stored is not None and stored.state == RunState.succeeded and stored.result == result
