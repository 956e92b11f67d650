"""`audit verify` catches every edit made behind the application's back (CLI, exit 1, first bad record)."""

from __future__ import annotations

import json

import pytest
import sqlalchemy
from DICOMAnnotatorLib.protocols import load_protocol
from DICOMAnnotatorLib.review import ReviewStore, SeriesRef, add_cases, add_user, create_project
from DICOMAnnotatorLib.review.audit import record_hash
from DICOMAnnotatorLib.review.url import resolve_store_url

pytest_plugins = ["review_fixtures"]


def _record(conn, seq: int) -> dict:
    return dict(conn.execute(sqlalchemy.text("SELECT * FROM audit_log WHERE seq = :s"), {"s": seq}).mappings().one())


def _update(conn, where_seq: int, **values) -> None:
    assignments = ", ".join(f"{name} = :{name}" for name in values)
    conn.execute(sqlalchemy.text(f"UPDATE audit_log SET {assignments} WHERE seq = :where_seq"),
                 {**values, "where_seq": where_seq})


def change_a_field(conn):
    _update(conn, 4, actor="mallory")


def change_and_rehash(conn):
    row = {**_record(conn, 4), "reason": "nothing to see"}
    _update(conn, 4, reason=row["reason"], hash=record_hash(row))


def delete_a_record(conn):
    conn.execute(sqlalchemy.text("DELETE FROM audit_log WHERE seq = 4"))


def delete_the_newest(conn):
    conn.execute(sqlalchemy.text("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)"))


def swap_two_records(conn):
    _update(conn, 3, seq=-1)
    _update(conn, 4, seq=3)
    _update(conn, -1, seq=4)


TAMPERING = {
    change_a_field: (4, "changed after it was written"),
    change_and_rehash: (5, "does not follow record 4"),
    delete_a_record: (4, "record 4 is missing"),
    delete_the_newest: (9, "newest records were deleted"),
    swap_two_records: (3, "does not follow record 2"),
}


@pytest.mark.parametrize("tamper", TAMPERING, ids=lambda f: f.__name__)
def test_tampering_is_detected(cli, store_url, tamper):
    with ReviewStore(store_url) as store:
        add_user(store, "lead", ["lead"], actor=None)
        add_user(store, "ann", ["annotator"], actor="lead")
        create_project(store, "p", load_protocol("lung-nodules-ct"), actor="lead")
        add_cases(store, "p", [SeriesRef("1.2", f"1.2.{n}", "CT", "/x") for n in range(5)], actor="lead")
    status, out, _ = cli("audit", "verify", "--json", "--store", store_url)
    assert status == 0 and json.loads(out) == {**json.loads(out), "intact": True, "records": 9}

    engine = sqlalchemy.create_engine(resolve_store_url(store_url))
    with engine.begin() as conn:
        tamper(conn)
    engine.dispose()

    first_bad, says = TAMPERING[tamper]
    status, out, err = cli("audit", "verify", "--json", "--store", store_url)
    assert status == 1
    report = json.loads(out)
    assert not report["intact"] and report["first_bad_record"] == first_bad and says in report["problem"]
    assert err.startswith("error: ") and f"broken at record {first_bad}" in err and says in err
