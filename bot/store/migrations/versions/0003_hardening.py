"""hardening: agent roles and disabling, session idle time, conversation source, turn receipts

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("agents") as batch_op:
        batch_op.add_column(sa.Column("role", sa.String(length=16), nullable=False, server_default="agent"))
        batch_op.add_column(sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    with op.batch_alter_table("agent_sessions") as batch_op:
        batch_op.add_column(sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.add_column(sa.Column("source", sa.String(length=32), nullable=True))
        batch_op.create_index(batch_op.f("ix_conversations_source"), ["source"], unique=False)
    op.create_table(
        "turn_receipts",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("message_hash", sa.String(length=64), nullable=False),
        sa.Column("response", sa.JSON(), nullable=False),
        sa.Column("created", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["conversation_id"], ["conversations.id"]),
        sa.PrimaryKeyConstraint("key"),
    )
    with op.batch_alter_table("turn_receipts") as batch_op:
        batch_op.create_index(batch_op.f("ix_turn_receipts_conversation_id"), ["conversation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_turn_receipts_created"), ["created"], unique=False)


def downgrade():
    op.drop_table("turn_receipts")
    with op.batch_alter_table("conversations") as batch_op:
        batch_op.drop_index(batch_op.f("ix_conversations_source"))
        batch_op.drop_column("source")
    with op.batch_alter_table("agent_sessions") as batch_op:
        batch_op.drop_column("last_seen")
    with op.batch_alter_table("agents") as batch_op:
        batch_op.drop_column("disabled")
        batch_op.drop_column("role")
