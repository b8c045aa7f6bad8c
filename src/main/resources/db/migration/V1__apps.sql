-- Berth's store: the same SQL for SQLite and PostgreSQL (berth.store.SqlStore).

-- One row: the store's revision, bumped in every write transaction; it is the version of the catalog. Bumping it
-- first also orders writers: the row lock makes concurrent write transactions run one after the other.
CREATE TABLE revision (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  value BIGINT NOT NULL
);
INSERT INTO revision (id, value) VALUES (1, 0);

-- One app: its canonical JSON (berth.apps.AppKeys.toJson, every key) and its version, 1 when created, +1 on every
-- change. Timestamps are milliseconds since the epoch (UTC), the same on both databases.
CREATE TABLE apps (
  name VARCHAR(63) PRIMARY KEY,
  spec TEXT NOT NULL,
  version BIGINT NOT NULL,
  created_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL
);

-- Which app a domain routes to. The primary key makes a domain belong to one app, whoever writes; moving it is a
-- delete and an insert in one transaction.
CREATE TABLE domains (
  domain VARCHAR(253) PRIMARY KEY,
  app VARCHAR(63) NOT NULL REFERENCES apps (name) ON DELETE CASCADE
);
CREATE INDEX domains_app ON domains (app);
