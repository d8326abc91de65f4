"""national scale: inbox search and counts (issue 20)

The inbox's name search read each referral's person to test its name: a broad term (a third of a
partner's 33,000 referrals) joined tens of thousands of referrals to their people three times a
page (the page, its count, the tabs' counts). The name now sits on the referral too,
`person_name` ("given family", lower-cased, as the search has always compared it), kept by the
database itself: a trigger fills it whenever a referral is written with a person (or its person
changes), and another rewrites it on every referral of a person whose name changes (an amended
referral, an anonymised person). Every writer (the pages, the API, the bulk import, the seed's
COPY) is covered without knowing of it, in the same statement.

The indexes the inbox reads (a partner's and the CRC's, newest sent first; the tabs' counts by
status) now carry the name, and what else their filters test, as INCLUDE columns (PostgreSQL),
so a broad search and its counts test each referral from an index alone. A narrow name is
answered from a trigram index on COALESCE(person_name, ''): the search says that expression for a
narrow term and the bare column for a broad one (portal.referrals.inbox), so each is read the way
it is cheap. The trigram index on the person's name served only the search: it goes.

Revision ID: 0034_inbox_speed
Revises: 0033_dashboard_speed
Create Date: 2026-12-07 06:00:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0034_inbox_speed'
down_revision = '0033_dashboard_speed'
branch_labels = None
depends_on = None


# The name as the search compares it (the same expression the person's trigram index was built on).
NAME = "lower((person.given_name || ' ') || person.family_name)"
OF_PERSON = f"(SELECT {NAME} FROM person WHERE person.id = referral.person_id)"

POSTGRESQL_TRIGGERS = (
    f"""
    CREATE FUNCTION referral_person_name() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        NEW.person_name := (SELECT {NAME} FROM person WHERE person.id = NEW.person_id);
        RETURN NEW;
    END $$
    """,
    # Also when person_name itself is written: nothing may set it to anything but the person's name.
    """
    CREATE TRIGGER tr_referral_person_name BEFORE INSERT OR UPDATE OF person_id, person_name ON referral
    FOR EACH ROW EXECUTE FUNCTION referral_person_name()
    """,
    """
    CREATE FUNCTION person_name_to_referrals() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF NEW.given_name IS DISTINCT FROM OLD.given_name OR NEW.family_name IS DISTINCT FROM OLD.family_name THEN
            UPDATE referral SET person_name = lower((NEW.given_name || ' ') || NEW.family_name)
            WHERE person_id = NEW.id;
        END IF;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER tr_person_name_to_referrals AFTER UPDATE OF given_name, family_name ON person
    FOR EACH ROW EXECUTE FUNCTION person_name_to_referrals()
    """,
)
# SQLite's triggers cannot change the row being written: they write it again, just after.
SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER tr_referral_person_name_insert AFTER INSERT ON referral BEGIN
        UPDATE referral SET person_name = (SELECT {NAME} FROM person WHERE person.id = NEW.person_id)
        WHERE id = NEW.id;
    END
    """,
    f"""
    CREATE TRIGGER tr_referral_person_name_update AFTER UPDATE OF person_id, person_name ON referral BEGIN
        UPDATE referral SET person_name = (SELECT {NAME} FROM person WHERE person.id = NEW.person_id)
        WHERE id = NEW.id;
    END
    """,
    """
    CREATE TRIGGER tr_person_name_to_referrals AFTER UPDATE OF given_name, family_name ON person BEGIN
        UPDATE referral SET person_name = lower((NEW.given_name || ' ') || NEW.family_name)
        WHERE person_id = NEW.id;
    END
    """,
)

# The indexes that now carry the name (and what else their lists test), each as it was before.
# INCLUDE is PostgreSQL's: on SQLite they stay as they are.
INCLUDING = (
    # A partner's inbox (newest sent first) and its searches.
    (
        'ix_referral_contract_sent_at',
        ['contract_id', sa.text('sent_at DESC NULLS LAST'), sa.text('id DESC')],
        ['status', 'person_name'],
    ),
    # Every referral, newest sent first: the CRC's inbox, and how a partner's broad search reaches
    # its first page (carrying whose each referral is).
    (
        'ix_referral_sent_at',
        [sa.text('sent_at DESC NULLS LAST'), sa.text('id DESC')],
        ['contract_id', 'crc_id', 'status', 'referrer_id', 'person_name'],
    ),
    # The tabs' counts, a partner's and the CRC's.
    ('ix_referral_contract_status_caseworker', ['contract_id', 'status', 'caseworker_id'], ['person_name']),
    ('ix_referral_crc_status_referrer', ['crc_id', 'status', 'referrer_id'], ['person_name']),
)


def upgrade():
    postgresql = op.get_bind().dialect.name == 'postgresql'
    op.add_column('referral', sa.Column('person_name', sa.String(length=201), nullable=True))
    op.execute(f'UPDATE referral SET person_name = {OF_PERSON} WHERE person_id IS NOT NULL')
    for statement in POSTGRESQL_TRIGGERS if postgresql else SQLITE_TRIGGERS:
        op.execute(statement)
    if postgresql:
        for name, columns, included in INCLUDING:
            op.drop_index(name, table_name='referral')
            op.create_index(name, 'referral', columns, unique=False, postgresql_include=included)
        op.execute(
            "CREATE INDEX ix_referral_person_name_trgm ON referral "
            "USING gin ((COALESCE(person_name, '')) gin_trgm_ops)"
        )
        op.execute('DROP INDEX IF EXISTS ix_person_name_trgm')


def downgrade():
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(
            "CREATE INDEX ix_person_name_trgm ON person "
            "USING gin (lower((given_name || ' ') || family_name) gin_trgm_ops)"
        )
        op.execute('DROP INDEX IF EXISTS ix_referral_person_name_trgm')
        for name, columns, _included in INCLUDING:
            op.drop_index(name, table_name='referral')
            op.create_index(name, 'referral', columns, unique=False)
        op.execute('DROP TRIGGER tr_person_name_to_referrals ON person')
        op.execute('DROP FUNCTION person_name_to_referrals()')
        op.execute('DROP TRIGGER tr_referral_person_name ON referral')
        op.execute('DROP FUNCTION referral_person_name()')
    else:
        for name in ('tr_person_name_to_referrals', 'tr_referral_person_name_update', 'tr_referral_person_name_insert'):
            op.execute(f'DROP TRIGGER {name}')
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_column('person_name')
