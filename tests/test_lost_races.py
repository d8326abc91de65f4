"""A lost race that reaches the database is a 409, never a 500; other integrity errors stay bugs."""


def test_a_unique_violation_is_a_lost_race_and_other_integrity_errors_are_bugs():
    """The mapping itself, with both drivers' ways of saying it (the races are in tests/api/test_races.py)."""
    from sqlalchemy.exc import IntegrityError

    from portal.persistence import as_conflict

    class Orig(Exception):
        def __init__(self, text, sqlstate=None):
            super().__init__(text)
            self.sqlstate = sqlstate

    unique_pg = IntegrityError("INSERT", {}, Orig("duplicate key", sqlstate="23505"))
    unique_sqlite = IntegrityError("INSERT", {}, Orig("UNIQUE constraint failed: invoice.contract_id"))
    not_null = IntegrityError("INSERT", {}, Orig("null value", sqlstate="23502"))
    assert as_conflict(unique_pg) is not None and as_conflict(unique_sqlite) is not None
    assert as_conflict(not_null) is None
