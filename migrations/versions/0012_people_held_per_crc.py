"""people held per CRC (issue 16): a CRN is unique within the CRC that holds the person, so a
second CRC can neither read nor overwrite another CRC's person by sending a referral with the CRN.

Existing people belong to the CRC of their first referral (or the first CRC, if they have none);
a person referred by more than one CRC is copied, one record for each further CRC, whose referrals
then point at their own copy.

Revision ID: 0012_people_held_per_crc
Revises: 0011_sessions_and_two_step
Create Date: 2026-12-06 04:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0012_people_held_per_crc'
down_revision = '0011_sessions_and_two_step'
branch_labels = None
depends_on = None

PERSON_COLUMNS = (
    "crn", "prison_number", "given_name", "family_name", "date_of_birth", "gender", "ethnicity", "disability",
    "interpreter_language", "created_at", "updated_at", "version",
)


def upgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.add_column(sa.Column('crc_id', sa.Integer(), nullable=True))

    connection = op.get_bind()
    person = sa.table('person', sa.column('id'), sa.column('crc_id'), *(sa.column(name) for name in PERSON_COLUMNS))
    referral = sa.table('referral', sa.column('id'), sa.column('person_id'), sa.column('crc_id'))
    organisation = sa.table('organisation', sa.column('id'), sa.column('kind'))
    holders: dict[int, list[int]] = {}
    pairs = connection.execute(
        sa.select(referral.c.person_id, referral.c.crc_id)
        .where(referral.c.person_id.is_not(None))
        .group_by(referral.c.person_id, referral.c.crc_id)
        .order_by(referral.c.person_id, sa.func.min(referral.c.id))
    )
    for person_id, crc_id in pairs:
        holders.setdefault(person_id, []).append(crc_id)
    for person_id, crcs in holders.items():
        connection.execute(sa.update(person).where(person.c.id == person_id).values(crc_id=crcs[0]))
        if len(crcs) > 1:
            row = connection.execute(sa.select(*(person.c[name] for name in PERSON_COLUMNS)).where(person.c.id == person_id)).one()
            for crc_id in crcs[1:]:
                copy_id = connection.execute(
                    sa.insert(person).values(crc_id=crc_id, **row._mapping).returning(person.c.id)
                ).scalar_one()
                connection.execute(
                    sa.update(referral)
                    .where(referral.c.person_id == person_id, referral.c.crc_id == crc_id)
                    .values(person_id=copy_id)
                )
    first_crc = connection.execute(
        sa.select(organisation.c.id).where(organisation.c.kind == 'crc').order_by(organisation.c.id).limit(1)
    ).scalar()
    if first_crc is not None:
        connection.execute(sa.update(person).where(person.c.crc_id.is_(None)).values(crc_id=first_crc))

    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.alter_column('crc_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_constraint(batch_op.f('uq_person_crn'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_person_crc_id_crn'), ['crc_id', 'crn'])
        batch_op.create_foreign_key(batch_op.f('fk_person_crc_id_organisation'), 'organisation', ['crc_id'], ['id'])


def downgrade():
    with op.batch_alter_table('person', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_person_crc_id_organisation'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_person_crc_id_crn'), type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_person_crn'), ['crn'])
        batch_op.drop_column('crc_id')
