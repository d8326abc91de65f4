"""services as records, eligibility, prisons/counties/probation offices as reference data (issue 15)

Revision ID: 0017_services_and_places
Revises: 0016_billing_rules
Create Date: 2026-12-06 19:50:00

"""
import re
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017_services_and_places'
down_revision = '0016_billing_rules'
branch_labels = None
depends_on = None

PATHWAYS = ('accommodation', 'ete', 'health', 'drugs_alcohol', 'finance_benefit_debt', 'children_families',
            'attitudes_thinking_behaviour', 'women_abuse', 'women_sex_work')

# What portal/areas.py held until now (BeNCH's Contract Package Area), with each prison's county.
COUNTIES = ('Bedfordshire', 'Cambridgeshire', 'Hertfordshire', 'Northamptonshire')
PRISONS = {
    'HMP Bedford': 'Bedfordshire',
    'HMP Littlehey': 'Cambridgeshire',
    'HMP Peterborough (female)': 'Cambridgeshire',
    'HMP Peterborough (male)': 'Cambridgeshire',
    'HMP The Mount': 'Hertfordshire',
    'HMP Woodhill': None,  # Milton Keynes, outside the area's counties
}
# BeNCH's probation offices by town, so offices typed as "Bedford" or "Bedford probation office"
# become one office with its county.
OFFICE_TOWNS = {
    'bedford': 'Bedfordshire', 'luton': 'Bedfordshire',
    'cambridge': 'Cambridgeshire', 'peterborough': 'Cambridgeshire', 'huntingdon': 'Cambridgeshire',
    'stevenage': 'Hertfordshire', 'watford': 'Hertfordshire', 'hemel hempstead': 'Hertfordshire',
    'northampton': 'Northamptonshire', 'kettering': 'Northamptonshire', 'wellingborough': 'Northamptonshire',
}


def office_key(name):
    """As portal.places.models.office_key (a migration never imports the app's code)."""
    key = re.sub(r'[^a-z0-9 ]', ' ', (name or '').lower())
    key = re.sub(r'\b(probation|office|offices|nps|crc)\b', ' ', key)
    return ' '.join(key.split())


def _place_table(name, *extra):
    op.create_table(name,
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crc_id', sa.Integer(), nullable=False),
    *extra,
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['crc_id'], ['organisation.id'], name=op.f(f'fk_{name}_crc_id_organisation')),
    sa.PrimaryKeyConstraint('id', name=op.f(f'pk_{name}')),
    sa.UniqueConstraint('crc_id', 'name', name=op.f(f'uq_{name}_crc_id_name'))
    )
    with op.batch_alter_table(name, schema=None) as batch_op:
        batch_op.create_index(batch_op.f(f'ix_{name}_crc_id'), ['crc_id'], unique=False)


def upgrade():
    _place_table('county')
    for name in ('prison', 'probation_office'):
        _place_table(name,
            sa.Column('county_id', sa.Integer(), nullable=True),
            sa.ForeignKeyConstraint(['county_id'], ['county.id'], name=op.f(f'fk_{name}_county_id_county')))

    op.create_table('service',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('contract_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('pathway', sa.Enum(*PATHWAYS, name='pathway', native_enum=False, length=32), nullable=False),
    sa.Column('setting', sa.Enum('custody', 'community', 'both', name='setting', native_enum=False, length=32), nullable=False),
    sa.Column('sex', sa.Enum('female', 'male', name='servicesex', native_enum=False, length=32), nullable=True),
    sa.Column('min_age', sa.Integer(), nullable=True),
    sa.Column('max_age', sa.Integer(), nullable=True),
    sa.Column('county_ids', sa.JSON(), nullable=False),
    sa.Column('prison_ids', sa.JSON(), nullable=False),
    sa.Column('probation_office_ids', sa.JSON(), nullable=False),
    sa.Column('open_to_referrals', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contract_id'], ['contract.id'], name=op.f('fk_service_contract_id_contract')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service')),
    sa.UniqueConstraint('contract_id', 'code', name=op.f('uq_service_contract_id_code')),
    sa.UniqueConstraint('contract_id', 'name', name=op.f('uq_service_contract_id_name'))
    )
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_contract_id'), ['contract_id'], unique=False)

    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.add_column(sa.Column('prison_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('probation_office_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('reoffending', sa.Enum('low', 'high', name='reoffending', native_enum=False, length=32), nullable=True))
        batch_op.add_column(sa.Column('colour_band_reason', sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f('ix_referral_prison_id'), ['prison_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_referral_probation_office_id'), ['probation_office_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_referral_prison_id_prison'), 'prison', ['prison_id'], ['id'])
        batch_op.create_foreign_key(
            batch_op.f('fk_referral_probation_office_id_probation_office'), 'probation_office', ['probation_office_id'], ['id'])

    _load_places_and_services()


def _load_places_and_services():
    """Each CRC gets the places portal/areas.py held, plus the probation offices its referrals name
    (spellings of one office merged into one record, the referrals pointed at it); each service code
    of a rate card becomes a service, named from the best there is, within its contract's area."""
    connection = op.get_bind()
    now = datetime.now(timezone.utc)
    stamp = {'active': True, 'created_at': now, 'updated_at': now, 'version': 1}
    meta = sa.MetaData()
    county = sa.Table('county', meta, autoload_with=connection)
    prison = sa.Table('prison', meta, autoload_with=connection)
    office = sa.Table('probation_office', meta, autoload_with=connection)
    service = sa.Table('service', meta, autoload_with=connection)
    referral = sa.table('referral', sa.column('id'), sa.column('crc_id'), sa.column('contract_id'),
                        sa.column('prison'), sa.column('community_office'), sa.column('prison_id'),
                        sa.column('probation_office_id'))
    organisation = sa.table('organisation', sa.column('id'), sa.column('kind'))
    contract = sa.table('contract', sa.column('id'), sa.column('crc_id'), sa.column('title'),
                        sa.column('counties', sa.JSON()), sa.column('prisons', sa.JSON()))
    item = sa.table('rate_card_item', sa.column('contract_id'), sa.column('code'), sa.column('service_code'),
                    sa.column('name'), sa.column('pathway'), sa.column('setting'), sa.column('unit'),
                    sa.column('active', sa.Boolean()))

    places = {}  # crc id -> {'county': {name: id}, 'prison': {name: id}}
    for (crc_id,) in connection.execute(sa.select(organisation.c.id).where(organisation.c.kind == 'crc')):
        counties = {}
        for name in COUNTIES:
            counties[name] = connection.execute(
                county.insert().values(crc_id=crc_id, name=name, **stamp).returning(county.c.id)).scalar_one()
        prisons = {}
        for name, county_name in PRISONS.items():
            prisons[name] = connection.execute(prison.insert().values(
                crc_id=crc_id, name=name, county_id=counties.get(county_name), **stamp).returning(prison.c.id)
            ).scalar_one()
        for name, prison_id in prisons.items():
            connection.execute(referral.update().where(referral.c.crc_id == crc_id, referral.c.prison == name)
                               .values(prison_id=prison_id))
        # The offices in use, one record per office however it was typed.
        typed = connection.execute(
            sa.select(referral.c.community_office).where(
                referral.c.crc_id == crc_id, referral.c.community_office.is_not(None)).distinct()
        ).scalars().all()
        offices = {}  # key -> (id, name)
        for text in sorted(name.strip() for name in typed if name and name.strip()):
            key = office_key(text)
            if not key or key in offices:
                continue
            known = OFFICE_TOWNS.get(key)
            name = f'{key.title()} probation office' if known else text[:100]
            offices[key] = (connection.execute(office.insert().values(
                crc_id=crc_id, name=name, county_id=counties.get(known), **stamp).returning(office.c.id)
            ).scalar_one(), name)
        for text in typed:
            found = offices.get(office_key(text or ''))
            if found:
                connection.execute(referral.update().where(
                    referral.c.crc_id == crc_id, referral.c.community_office == text
                ).values(probation_office_id=found[0], community_office=found[1]))
        places[crc_id] = {'county': counties, 'prison': prisons}

    items_by_contract = {}
    for row in connection.execute(sa.select(item).order_by(item.c.contract_id, item.c.code)):
        items_by_contract.setdefault(row.contract_id, []).append(row)
    for row in connection.execute(sa.select(contract)):
        items = items_by_contract.get(row.id, [])
        codes = []
        for each in items:
            if each.service_code not in codes and each.unit != 'monthly_fixed':
                codes.append(each.service_code)
        for each in items:  # a grant's service has only its monthly item
            if each.service_code not in codes:
                codes.append(each.service_code)
        area = places.get(row.crc_id, {'county': {}, 'prison': {}})
        county_ids = [area['county'][name] for name in (row.counties or []) if name in area['county']]
        prison_ids = [area['prison'][name] for name in (row.prisons or []) if name in area['prison']]
        used = set()
        for code in codes:
            mine = [each for each in items if each.service_code == code]
            first_fee = next((each for each in mine if each.unit == 'per_referral'), mine[0])
            name = (row.title if len(codes) == 1 else first_fee.name)[:190]
            if name.lower() in used:
                name = f'{name} ({code})'
            used.add(name.lower())
            settings = {each.setting for each in mine}
            connection.execute(service.insert().values(
                contract_id=row.id, code=code, name=name, description=None, pathway=first_fee.pathway,
                setting=settings.pop() if len(settings) == 1 else 'both', sex=None, min_age=None, max_age=None,
                county_ids=county_ids if len(county_ids) < len(area['county']) else [],
                prison_ids=prison_ids, probation_office_ids=[],
                # A grant's monthly amount alone belongs to the contract: no one is referred to it.
                open_to_referrals=any(each.unit != 'monthly_fixed' and each.active for each in mine),
                created_at=now, updated_at=now, version=1))


def downgrade():
    with op.batch_alter_table('referral', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_referral_probation_office_id_probation_office'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_referral_prison_id_prison'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_referral_probation_office_id'))
        batch_op.drop_index(batch_op.f('ix_referral_prison_id'))
        batch_op.drop_column('colour_band_reason')
        batch_op.drop_column('reoffending')
        batch_op.drop_column('probation_office_id')
        batch_op.drop_column('prison_id')
    with op.batch_alter_table('service', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_service_contract_id'))
    op.drop_table('service')
    for name in ('probation_office', 'prison', 'county'):
        with op.batch_alter_table(name, schema=None) as batch_op:
            batch_op.drop_index(batch_op.f(f'ix_{name}_crc_id'))
        op.drop_table(name)
