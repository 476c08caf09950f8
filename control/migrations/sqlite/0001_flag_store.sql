-- The runtime flag store (SQLite). Booleans are 0/1 integers, times unix milliseconds,
-- schedules and audit states JSON text, so the same statements run on PostgreSQL.

-- Bumped by every change transaction (first statement, so it also serializes writers);
-- instances poll this one integer and reload only when it moved.
CREATE TABLE flag_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO flag_version (id, version) VALUES (1, 0);

CREATE TABLE global_flag (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    killed INTEGER NOT NULL,
    killed_by INTEGER
);
INSERT INTO global_flag (id, killed, killed_by) VALUES (1, 0, NULL);

-- One row per route with a scalar override; each *_by is the audit entry that set it.
CREATE TABLE route_flag (
    route TEXT PRIMARY KEY,
    percent INTEGER,
    percent_by INTEGER,
    killed INTEGER NOT NULL,
    killed_by INTEGER,
    shadow_sample INTEGER,
    shadow_sample_by INTEGER,
    schedule TEXT,
    schedule_by INTEGER
);

CREATE TABLE tenant_override (
    route TEXT NOT NULL,
    tenant TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('legacy', 'new')),
    set_by INTEGER NOT NULL,
    PRIMARY KEY (route, tenant)
);

CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    route TEXT,
    change TEXT NOT NULL,
    before TEXT NOT NULL,
    after TEXT NOT NULL,
    comment TEXT,
    reverts INTEGER REFERENCES audit (id)
);
CREATE INDEX audit_by_route ON audit (route, id);
CREATE INDEX audit_by_reverts ON audit (reverts);

-- The audit log is append-only.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
    SELECT RAISE(ABORT, 'the audit log is append-only');
END;
