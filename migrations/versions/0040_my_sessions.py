"""national scale: a caseworker's sessions (issue 20)

"My sessions" lists the sessions of a caseworker's cases in a window of days (the last fortnight,
the coming month). A caseworker of years has thousands of cases, nearly all ended long ago, and each
case costs the lists a look-up in the sessions' index. A case that ended before a list's first day
can have nothing in it (no session is dated after its referral ended:
portal.delivery.sessions.check_session), so the lists now take only the open cases and those ended
since. ix_referral_caseworker_cases gains the two columns that say when a case ended, so the cases are
chosen from the index alone: on the 200,000-referral seed (3,656 cases, 150 open) the page's SQL went
from 85 ms to 25 ms.

ix_referral_caseworker_id and ix_referral_referrer_id, each on one column alone, are dropped: a wider
index begins with the same column (ix_referral_caseworker_cases, ix_referral_referrer_sent) and
answers everything they did, and every referral written no longer updates them.

Revision ID: 0040_my_sessions
Revises: 0039_sessions_speed
Create Date: 2026-12-07 16:00:00

"""

from alembic import op


# revision identifiers, used by Alembic.
revision = "0040_my_sessions"
down_revision = "0039_sessions_speed"
branch_labels = None
depends_on = None

WIDER = ["caseworker_id", "contract_id", "status", "id", "completed_at", "withdrawn_at"]
NARROWER = ["caseworker_id", "contract_id", "status", "id"]


def upgrade():
    op.drop_index("ix_referral_caseworker_cases", table_name="referral")
    op.create_index("ix_referral_caseworker_cases", "referral", WIDER, unique=False)
    op.drop_index("ix_referral_caseworker_id", table_name="referral")
    op.drop_index("ix_referral_referrer_id", table_name="referral")


def downgrade():
    op.create_index("ix_referral_referrer_id", "referral", ["referrer_id"], unique=False)
    op.create_index("ix_referral_caseworker_id", "referral", ["caseworker_id"], unique=False)
    op.drop_index("ix_referral_caseworker_cases", table_name="referral")
    op.create_index("ix_referral_caseworker_cases", "referral", NARROWER, unique=False)
