-- Berth nodes sharing one database (berth.store.SqlStore, berth.cluster). The same SQL for SQLite and PostgreSQL;
-- on SQLite (one node) the new tables stay empty.

-- The revision at which each app's row was last written: a node that missed changes reads only the rows written
-- after the revision it has (its catch-up), plus the list of names to see deletions. Rows written before this
-- migration take the revision as it is now, which every node that loads them from scratch reads.
ALTER TABLE apps ADD COLUMN revision BIGINT NOT NULL DEFAULT 0;
UPDATE apps SET revision = (SELECT value FROM revision WHERE id = 1);
CREATE INDEX apps_revision ON apps (revision);

-- One row per node that has joined: where its router is, its weight in placement, and its heartbeat. Times are
-- milliseconds since the epoch by the database's clock (not the nodes'), so clock skew between machines does not
-- make a node look gone. incarnation tells a node's successive runs apart (a node restarted under the same name).
-- running lists the apps that have a ready instance on the node (names, comma separated), for status pages.
CREATE TABLE nodes (
  name VARCHAR(63) PRIMARY KEY,
  address VARCHAR(300) NOT NULL,
  capacity INTEGER NOT NULL,
  incarnation VARCHAR(32) NOT NULL,
  started_at BIGINT NOT NULL,
  heartbeat_at BIGINT NOT NULL,
  running TEXT NOT NULL
);

-- One row: the secret a node puts in the marker of a request it forwards to another node, so that a node serves
-- a forwarded request without placing it again only when it comes from a node, never from a client.
CREATE TABLE cluster (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  secret VARCHAR(64) NOT NULL
);
