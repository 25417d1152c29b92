"""events partitioned by month on PostgreSQL; event ids kept unique in event_ids

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07 14:40:00

A unique key on a partitioned table must include the partition key, so the uniqueness of an event
id (the intake's idempotency) moves to `event_ids`, keyed by the id alone. Existing rows are copied
into month partitions (one transaction: run it in a maintenance window on a large store).
The foreign key from events to learners is not carried over: the intake writes the learner in the
same transaction as its events and erasure deletes a learner's events itself, while the key cost a
lookup and a row lock per event written and made creating a partition lock `learners` too.
SQLite keeps its one table: nothing changes there.
"""

from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None

MONTH_PARTITIONS = """
DO $$
DECLARE m timestamptz;
BEGIN
  FOR m IN SELECT date_trunc('month', occurred_at) FROM events_unpartitioned UNION SELECT date_trunc('month', now())
           UNION SELECT date_trunc('month', now()) + make_interval(months => k) FROM generate_series(1, 3) AS k
  LOOP
    EXECUTE format('CREATE TABLE %I PARTITION OF events FOR VALUES FROM (%L) TO (%L)',
                   'events_y' || to_char(m, 'YYYY') || 'm' || to_char(m, 'MM'), m, m + interval '1 month');
  END LOOP;
END $$;
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("SET LOCAL TimeZone = 'UTC'")
    op.execute("ALTER TABLE events RENAME TO events_unpartitioned")
    for old in ('events_pkey', 'events_event_id_key', 'events_learner_id_fkey'):
        op.execute(f"ALTER TABLE events_unpartitioned RENAME CONSTRAINT {old} TO {old.replace('events', 'events_unpartitioned', 1)}")
    for old in ('ix_events_learner_time', 'ix_events_item_kind'):
        op.execute(f"ALTER INDEX {old} RENAME TO {old}_unpartitioned")
    op.execute("CREATE TABLE events (LIKE events_unpartitioned INCLUDING DEFAULTS INCLUDING COMMENTS) PARTITION BY RANGE (occurred_at)")
    op.execute("COMMENT ON TABLE events IS 'one partition per calendar month (UTC): events_yYYYYmMM; event ids are unique through event_ids'")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id, occurred_at)")
    op.execute("CREATE INDEX ix_events_learner_time ON events (learner_id, occurred_at)")
    op.execute("CREATE INDEX ix_events_item_kind ON events (item_id, kind)")
    op.execute(MONTH_PARTITIONS)
    op.execute("INSERT INTO events SELECT * FROM events_unpartitioned")
    op.execute("CREATE TABLE event_ids (event_id varchar(128) PRIMARY KEY, occurred_at timestamptz NOT NULL)")
    op.execute("COMMENT ON TABLE event_ids IS 'every stored event id, once: the idempotency key that a partitioned events table cannot hold'")
    op.execute("INSERT INTO event_ids SELECT event_id, occurred_at FROM events_unpartitioned")
    op.execute("CREATE INDEX ix_event_ids_time ON event_ids USING brin (occurred_at)")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events.id")
    op.execute("DROP TABLE events_unpartitioned")


def downgrade() -> None:
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.execute("CREATE TABLE events_flat (LIKE events INCLUDING DEFAULTS INCLUDING COMMENTS)")
    op.execute("INSERT INTO events_flat SELECT * FROM events")
    op.execute("ALTER SEQUENCE events_id_seq OWNED BY events_flat.id")
    op.execute("DROP TABLE events")
    op.execute("DROP TABLE event_ids")
    op.execute("ALTER TABLE events_flat RENAME TO events")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY (id)")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_event_id_key UNIQUE (event_id)")
    op.execute("ALTER TABLE events ADD CONSTRAINT events_learner_id_fkey FOREIGN KEY (learner_id) REFERENCES learners (id) ON DELETE CASCADE")
    op.execute("CREATE INDEX ix_events_learner_time ON events (learner_id, occurred_at)")
    op.execute("CREATE INDEX ix_events_item_kind ON events (item_id, kind)")
