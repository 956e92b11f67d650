"""The store itself: URL resolution, schema versions and upgrades, the transition table."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from DICOMAnnotatorLib.review import (
    TRANSITIONS,
    Action,
    CaseState,
    IllegalTransitionError,
    ReviewStore,
    StoreError,
    migrations,
    verify_chain,
)
from DICOMAnnotatorLib.review.states import rule_for
from DICOMAnnotatorLib.review.url import resolve_store_url

pytest_plugins = ["review_fixtures"]


def test_store_url_resolution(monkeypatch, tmp_path):
    monkeypatch.delenv("DICOM_ANNOTATOR_STORE", raising=False)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert resolve_store_url() == f"sqlite:///{tmp_path}/data/dicom-annotator/review.db"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert resolve_store_url() == f"sqlite:///{Path.home()}/.local/share/dicom-annotator/review.db"
    monkeypatch.setenv("DICOM_ANNOTATOR_STORE", "postgres://u:pw@db:5433/review")
    assert resolve_store_url() == "postgresql+psycopg://u:pw@db:5433/review"
    assert resolve_store_url("postgresql://db/review") == "postgresql+psycopg://db/review"
    assert resolve_store_url("postgresql+psycopg://db/review") == "postgresql+psycopg://db/review"
    assert resolve_store_url(f"sqlite:///{tmp_path}/a.db") == f"sqlite:///{tmp_path}/a.db"
    monkeypatch.chdir(tmp_path)
    assert resolve_store_url("b.db") == f"sqlite:///{tmp_path}/b.db"
    for memory in ("sqlite://", "sqlite:///:memory:"):
        with pytest.raises(StoreError, match="names no file"):
            resolve_store_url(memory)
    with pytest.raises(StoreError, match="not supported"):
        resolve_store_url("mysql://db/review")


def test_default_store_is_created_in_the_data_directory_by_the_first_user(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    default = tmp_path / "dicom-annotator" / "review.db"
    status, _, err = cli("project", "status", "p")
    assert status == 1 and f"No review store at sqlite:///{default}" in err and not default.exists()
    status, out, err = cli("user", "add", "lead", "--role", "lead")
    assert status == 0, err
    assert default.is_file()


def test_only_user_add_creates_a_store(cli, store_url):
    for command in (("audit", "verify"), ("project", "status", "p"), ("case", "next", "p", "--user", "lead")):
        status, _, err = cli(*command, "--store", store_url)
        assert status == 1 and "No review store" in err and "user add NAME --role lead" in err
    assert cli("user", "add", "lead", "--role", "lead", "--store", store_url)[0] == 0
    assert cli("audit", "verify", "--store", store_url)[0] == 0


def test_unreachable_server_is_one_clear_error(cli, postgres_server):
    url = f"postgresql://review:secret@127.0.0.1:{postgres_server.port}/no_such_database"
    status, _, err = cli("project", "status", "p", "--store", url)
    assert status == 1 and err.startswith("error: Store postgresql+psycopg://review:***@127.0.0.1")
    assert "secret" not in err and "no_such_database" in err


def test_new_store_is_stamped_and_audited(store_url):
    with ReviewStore(store_url) as store, store.read() as conn:
        assert migrations.stored_version(conn) == migrations.current_version() == 1 + len(migrations.UPGRADES)
        report = verify_chain(conn)
        assert report.intact and report.records == 1


def test_upgrade_steps_run_in_order_and_atomically(store_url, monkeypatch):
    monkeypatch.setattr(migrations, "UPGRADES", [])  # a store at version 1, then steps of this test only
    ReviewStore(store_url).close()

    def add_note(conn):
        conn.execute(sqlalchemy.text("ALTER TABLE cases ADD COLUMN note TEXT"))

    def add_then_fail(conn):
        conn.execute(sqlalchemy.text("ALTER TABLE cases ADD COLUMN other TEXT"))
        raise RuntimeError("step 3 failed")

    monkeypatch.setattr(migrations, "UPGRADES", [migrations.Upgrade(2, "case notes", add_note),
                                                 migrations.Upgrade(3, "broken step", add_then_fail)])
    with pytest.raises(RuntimeError, match="step 3 failed"):
        ReviewStore(store_url)
    engine = sqlalchemy.create_engine(resolve_store_url(store_url))  # look without opening (and upgrading)
    with engine.connect() as conn:
        assert migrations.stored_version(conn) == 1
        columns = {c["name"] for c in sqlalchemy.inspect(conn).get_columns("cases")}
        assert "note" not in columns and "other" not in columns
    engine.dispose()

    monkeypatch.setattr(migrations, "UPGRADES", migrations.UPGRADES[:1])
    with ReviewStore(store_url) as store, store.read() as conn:
        assert migrations.stored_version(conn) == 2
        assert "note" in {c["name"] for c in sqlalchemy.inspect(conn).get_columns("cases")}
        report = verify_chain(conn)
        assert report.intact and report.records == 2

    monkeypatch.setattr(migrations, "UPGRADES", [])
    with pytest.raises(StoreError, match="schema version 2, newer than the 1"):
        ReviewStore(store_url)


def test_transition_table():
    assert not [key for key in TRANSITIONS if key[0] is CaseState.FINAL], "a final case must not move"
    reachable = {CaseState.NEW} | {target for rule in TRANSITIONS.values() for target in rule.targets}
    assert reachable == set(CaseState)
    for state in CaseState:
        for action in Action:
            if (state, action) not in TRANSITIONS:
                with pytest.raises(IllegalTransitionError, match=f"Case 7 is {state.value}"):
                    rule_for(state, action, 7)
