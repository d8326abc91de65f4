"""contracts cover counties and prisons as place records (issue 15)

Revision ID: 0028_contract_places
Revises: 0027_peppol_participant_id
Create Date: 2026-12-07 02:00:00

"""
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028_contract_places'
down_revision = '0027_peppol_participant_id'
branch_labels = None
depends_on = None

# (association table, its place column, the place table, the contract's old JSON column)
LINKS = (
    ('contract_county', 'county_id', 'county', 'counties'),
    ('contract_prison', 'prison_id', 'prison', 'prisons'),
)


def _tidy(name):
    """A name as portal.places.service keeps one: single spaces, at most 100 characters."""
    return ' '.join(str(name or '').split())[:100]


def upgrade():
    for table, column, place, _ in LINKS:
        op.create_table(table,
        sa.Column('contract_id', sa.Integer(), nullable=False),
        sa.Column(column, sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f(f'fk_{table}_contract_id_contract'),
                                ondelete='CASCADE'),
        sa.ForeignKeyConstraint([column], [f'{place}.id'], name=op.f(f'fk_{table}_{column}_{place}')),
        sa.PrimaryKeyConstraint('contract_id', column, name=op.f(f'pk_{table}'))
        )
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(batch_op.f(f'ix_{table}_{column}'), [column], unique=False)

    connection = op.get_bind()
    now = datetime.now(timezone.utc)
    contract = sa.table('contract', sa.column('id'), sa.column('crc_id'),
                        sa.column('counties', sa.JSON()), sa.column('prisons', sa.JSON()))
    rows = connection.execute(sa.select(contract).order_by(contract.c.id)).all()
    for table, column, place_name, old in LINKS:
        place = sa.table(place_name, sa.column('id'), sa.column('crc_id'), sa.column('name'),
                         sa.column('active', sa.Boolean()), sa.column('created_at'), sa.column('updated_at'),
                         sa.column('version'))
        link = sa.table(table, sa.column('contract_id'), sa.column(column))
        ids = {}  # (crc id, lower-case name) -> place id: the CRC's own places, matched as the forms match them
        for place_id, crc_id, name in connection.execute(sa.select(place.c.id, place.c.crc_id, place.c.name)):
            ids.setdefault((crc_id, name.lower()), place_id)
        for row in rows:
            linked = set()
            for name in getattr(row, old) or []:
                name = _tidy(name)
                if not name:
                    continue
                key = (row.crc_id, name.lower())
                if key not in ids:
                    # A name the CRC's list lacks (a typo, or a place since taken off the list): kept
                    # as a place of that CRC rather than lost from the contract, but retired, so it is
                    # offered for nothing new until an administrator renames it or brings it back.
                    ids[key] = connection.execute(place.insert().values(
                        crc_id=row.crc_id, name=name, active=False, created_at=now, updated_at=now, version=1
                    ).returning(place.c.id)).scalar_one()
                if ids[key] not in linked:
                    linked.add(ids[key])
                    connection.execute(link.insert().values(contract_id=row.id, **{column: ids[key]}))

    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.drop_column('prisons')
        batch_op.drop_column('counties')


def downgrade():
    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.add_column(sa.Column('counties', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('prisons', sa.JSON(), nullable=True))

    connection = op.get_bind()
    contract = sa.table('contract', sa.column('id'),
                        sa.column('counties', sa.JSON()), sa.column('prisons', sa.JSON()))
    names = {}  # contract id -> {old column: [names]}
    for table, column, place_name, old in LINKS:
        place = sa.table(place_name, sa.column('id'), sa.column('name'))
        link = sa.table(table, sa.column('contract_id'), sa.column(column))
        for contract_id, name in connection.execute(
            sa.select(link.c.contract_id, place.c.name).join(place, place.c.id == link.c[column])
        ):
            names.setdefault(contract_id, {}).setdefault(old, []).append(name)
    for (contract_id,) in connection.execute(sa.select(contract.c.id)).all():
        found = names.get(contract_id, {})
        connection.execute(contract.update().where(contract.c.id == contract_id).values(
            counties=sorted(found.get('counties', [])), prisons=sorted(found.get('prisons', []))))

    with op.batch_alter_table('contract', schema=None) as batch_op:
        batch_op.alter_column('counties', existing_type=sa.JSON(), nullable=False)
        batch_op.alter_column('prisons', existing_type=sa.JSON(), nullable=False)

    for table, column, _, _ in LINKS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{table}_{column}'))
        op.drop_table(table)
