-- Roles and grants for spur on a ClickHouse server; run once as spur_admin:
--   clickhouse-client --secure --user spur_admin --multiquery < deploy/clickhouse/roles.sql
-- Least privilege: billing sees aggregates only, ops adds capacity and dead
-- letters, engineers read raw events; only the workers write.
CREATE ROLE IF NOT EXISTS spur_writer_role;
GRANT CREATE DATABASE, CREATE TABLE, ALTER, SELECT, INSERT, DELETE, OPTIMIZE ON spur.* TO spur_writer_role;

CREATE ROLE IF NOT EXISTS billing_role;
GRANT SELECT ON spur.usage_hourly TO billing_role;
-- The month edges of zones whose offset is not a whole hour (Asia/Kolkata) come from here.
GRANT SELECT ON spur.usage_quarters TO billing_role;
-- `spur billing close` appends a period's totals; no ALTER or DELETE: closed
-- totals are immutable for billing (only the writer's erasure removes rows).
GRANT SELECT ON spur.billing_periods TO billing_role;
GRANT INSERT ON spur.billing_periods TO billing_role;

CREATE ROLE IF NOT EXISTS ops_role;
GRANT SELECT ON spur.usage_hourly TO ops_role;
GRANT SELECT ON spur.capacity_minutely TO ops_role;
GRANT SELECT ON spur.dead_letters TO ops_role;

CREATE ROLE IF NOT EXISTS engineer_role;
GRANT SELECT ON spur.actions TO engineer_role;
GRANT SELECT ON spur.web_requests TO engineer_role;
GRANT SELECT ON spur.form_submissions TO engineer_role;
GRANT SELECT ON spur.usage_hourly TO engineer_role;
GRANT SELECT ON spur.capacity_minutely TO engineer_role;
GRANT SELECT ON spur.dead_letters TO engineer_role;
