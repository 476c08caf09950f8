-- The runtime flag store (PostgreSQL). Booleans are 0/1 integers, times unix
-- milliseconds, schedules and audit states JSON text, so the same statements run on SQLite.

-- Bumped by every change transaction (first statement, so its row lock also serializes
-- writers); instances poll this one integer and reload only when it moved.
CREATE TABLE flag_version (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO flag_version (id, version) VALUES (1, 0);

CREATE TABLE global_flag (
    id BIGINT PRIMARY KEY CHECK (id = 1),
    killed BIGINT NOT NULL,
    killed_by BIGINT
);
INSERT INTO global_flag (id, killed, killed_by) VALUES (1, 0, NULL);

-- One row per route with a scalar override; each *_by is the audit entry that set it.
CREATE TABLE route_flag (
    route TEXT PRIMARY KEY,
    percent BIGINT,
    percent_by BIGINT,
    killed BIGINT NOT NULL,
    killed_by BIGINT,
    shadow_sample BIGINT,
    shadow_sample_by BIGINT,
    schedule TEXT,
    schedule_by BIGINT
);

CREATE TABLE tenant_override (
    route TEXT NOT NULL,
    tenant TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('legacy', 'new')),
    set_by BIGINT NOT NULL,
    PRIMARY KEY (route, tenant)
);

CREATE TABLE audit (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    actor TEXT NOT NULL,
    route TEXT,
    change TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    comment TEXT,
    reverts BIGINT REFERENCES audit (id)
);
CREATE INDEX audit_by_route ON audit (route, id);
CREATE INDEX audit_by_reverts ON audit (reverts);

-- The audit log is append-only.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the audit log is append-only';
END;
$$;
CREATE TRIGGER audit_no_update BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
