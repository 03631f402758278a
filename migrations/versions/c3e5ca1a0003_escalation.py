"""escalation

Escalations keep the SLA as it stood (state, running deadline, paused minutes), who held the
ticket, a raised priority, an automatic escalation's unique key and a de-escalation; reasons get
an English name and a fixed code (`sla_breach`); teams may limit where their agents escalate
(team_escalation_targets); an SLA policy may escalate on a first-response breach. `tickets` is
not touched, so SQLite's batch mode never rebuilds it (its open-ticket triggers stay).

Revision ID: c3e5ca1a0003
Revises: c2a11d0b0002
Create Date: 2026-11-30 06:40:52.376188

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3e5ca1a0003'
down_revision = 'c2a11d0b0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('team_escalation_targets',
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('target_team_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['target_team_id'], ['teams.id'], name=op.f('fk_team_escalation_targets_target_team_id_teams'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_team_escalation_targets_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('team_id', 'target_team_id', name=op.f('pk_team_escalation_targets'))
    )
    with op.batch_alter_table('escalation_reasons', schema=None) as batch_op:
        batch_op.add_column(sa.Column('name_en', sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column('code', sa.String(length=40), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_escalation_reasons_code'), ['code'])

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('from_user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('raised_priority', sa.Enum('urgent', 'high', 'normal', 'low', name='priority', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('sla_state', sa.Enum('ok', 'approaching', 'breached', name='slastate', native_enum=False, length=20), nullable=True))
        batch_op.add_column(sa.Column('sla_due_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('sla_paused_minutes', sa.Float(), nullable=True))
        batch_op.add_column(sa.Column('auto_key', sa.String(length=120), nullable=True))
        batch_op.add_column(sa.Column('deescalated_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deescalated_by_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deescalation_note', sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_escalations_auto_key'), ['auto_key'])
        batch_op.create_foreign_key(batch_op.f('fk_escalations_from_user_id_users'), 'users', ['from_user_id'], ['id'])
        batch_op.create_foreign_key(batch_op.f('fk_escalations_deescalated_by_id_users'), 'users', ['deescalated_by_id'], ['id'])

    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.add_column(sa.Column('escalate_on_first_breach', sa.Boolean(), server_default=sa.false(), nullable=False))



def downgrade():
    with op.batch_alter_table('sla_policies', schema=None) as batch_op:
        batch_op.drop_column('escalate_on_first_breach')

    with op.batch_alter_table('escalations', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_escalations_deescalated_by_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('fk_escalations_from_user_id_users'), type_='foreignkey')
        batch_op.drop_constraint(batch_op.f('uq_escalations_auto_key'), type_='unique')
        batch_op.drop_column('deescalation_note')
        batch_op.drop_column('deescalated_by_id')
        batch_op.drop_column('deescalated_at')
        batch_op.drop_column('auto_key')
        batch_op.drop_column('sla_paused_minutes')
        batch_op.drop_column('sla_due_at')
        batch_op.drop_column('sla_state')
        batch_op.drop_column('raised_priority')
        batch_op.drop_column('from_user_id')

    with op.batch_alter_table('escalation_reasons', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_escalation_reasons_code'), type_='unique')
        batch_op.drop_column('code')
        batch_op.drop_column('name_en')

    op.drop_table('team_escalation_targets')
