-- The shadow diff store (SQLite). Numbered from 1001 so it shares sqlx's migration table
-- with the flag store (0001...) in the same database; each side ignores the other's.
-- Times are unix milliseconds; differences, noise and sample sides are JSON text.

-- One row per shadowed request.
CREATE TABLE shadow_comparison (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    route TEXT NOT NULL,
    tenant TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    primary_side TEXT NOT NULL,
    verdict TEXT NOT NULL,
    skip TEXT,
    error TEXT,
    primary_status INTEGER,
    shadow_status INTEGER,
    primary_ms REAL,
    shadow_ms REAL,
    signature TEXT NOT NULL,
    differences TEXT NOT NULL,
    noise TEXT
);
CREATE INDEX shadow_comparison_at ON shadow_comparison (at_ms);
CREATE INDEX shadow_comparison_route_at ON shadow_comparison (route, at_ms);

-- Both answers of a few comparisons per route and signature, redacted and cut.
CREATE TABLE shadow_sample (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    comparison_id INTEGER NOT NULL,
    at_ms INTEGER NOT NULL,
    route TEXT NOT NULL,
    signature TEXT NOT NULL,
    primary_answer TEXT NOT NULL,
    shadow_answer TEXT NOT NULL
);
CREATE INDEX shadow_sample_signature ON shadow_sample (route, signature);
