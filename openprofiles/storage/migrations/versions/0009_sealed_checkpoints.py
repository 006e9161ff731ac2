"""Flow-execution checkpoints are sealed: they may carry source values (the SQL connector's is the
last row's key, an e-mail address perhaps).

`sealed_checkpoint` holds the checkpoint sealed with the destination domain's data key. The plaintext
`checkpoint` of every ended run goes now (nothing resumes from it); an active run keeps its own until
its next batch, which writes the sealed one and clears it, so a run interrupted before the upgrade
still resumes where it stopped. The downgrade drops the sealed checkpoints: an active run then starts
over from its beginning (its batches replace, never duplicate).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("flow_executions", sa.Column("sealed_checkpoint", sa.LargeBinary))
    op.execute(sa.text(
        "UPDATE flow_executions SET checkpoint = NULL WHERE status NOT IN ('InProgress', 'CancelStarted')"))


def downgrade() -> None:
    with op.batch_alter_table("flow_executions") as batch:
        batch.drop_column("sealed_checkpoint")
