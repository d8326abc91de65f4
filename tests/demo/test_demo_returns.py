"""Demo service returns: a year per contract that has run, in every status, made by the operations."""

from collections import Counter

from sqlalchemy import select

from portal.audit.models import AuditEvent
from portal.demo.loader import load_demo_data
from portal.demo.returns import load_demo_returns
from portal.extensions import db
from portal.returns.models import ReturnStatus, ServiceReturn


def test_demo_returns_cover_a_year_per_contract_in_every_status(observer_app):
    load_demo_data(history=False)
    made = load_demo_returns()
    returns = db.session.scalars(select(ServiceReturn)).all()
    assert made == len(returns) > 0
    assert set(Counter(r.status for r in returns)) == set(ReturnStatus)
    per_contract = Counter(r.contract_id for r in returns)
    assert max(per_contract.values()) == 12
    assert all(r.kpis for r in returns if r.is_frozen)
    assert db.session.scalar(
        select(db.func.count()).select_from(AuditEvent).where(AuditEvent.action == "service_return.accepted")
    )
    assert load_demo_returns() == 0  # loading again adds nothing
