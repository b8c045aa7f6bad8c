-- Metering: what each app used, per hour (UTC), for billing. Rows are added to, never replaced: a node adds what it
-- measured since its last write (berth.metrics.Metering), so several nodes on one database sum up, and a restart of
-- Berth or of an instance loses nothing already written. Rows stay when an app is deleted: its use is still billed.
-- hour: seconds since the epoch at the start of the hour. cpu_seconds: CPU time of all its instances' processes.
-- memory_byte_seconds: memory in use integrated over time (1 GiB for one hour is 3865470566400).
CREATE TABLE app_usage (
  app VARCHAR(63) NOT NULL,
  hour BIGINT NOT NULL,
  cpu_seconds DOUBLE PRECISION NOT NULL,
  memory_byte_seconds DOUBLE PRECISION NOT NULL,
  PRIMARY KEY (app, hour)
);
CREATE INDEX app_usage_hour ON app_usage (hour);
