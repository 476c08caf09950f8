-- The shadow diff store (PostgreSQL). Numbered from 1001 so it shares sqlx's migration table
-- with the flag store (0001...) in the same database; each side ignores the other's.
-- Times are unix milliseconds; differences, noise and sample sides are JSON text.

-- One row per shadowed request.
CREATE TABLE shadow_comparison (
    id BIGSERIAL PRIMARY KEY,
    at_ms BIGINT NOT NULL,
    route TEXT NOT NULL,
    tenant TEXT,
    method TEXT NOT NULL,
    path TEXT NOT NULL,
    primary_side TEXT NOT NULL,
    verdict TEXT NOT NULL,
    skip TEXT,
    error TEXT,
    primary_status BIGINT,
    shadow_status BIGINT,
    primary_ms DOUBLE PRECISION,
    shadow_ms DOUBLE PRECISION,
    signature TEXT NOT NULL,
    differences TEXT NOT NULL,
    noise TEXT
);
CREATE INDEX shadow_comparison_at ON shadow_comparison (at_ms);
CREATE INDEX shadow_comparison_route_at ON shadow_comparison (route, at_ms);

-- Both answers of a few comparisons per route and signature, redacted and cut.
CREATE TABLE shadow_sample (
    id BIGSERIAL PRIMARY KEY,
    comparison_id BIGINT NOT NULL,
    at_ms BIGINT NOT NULL,
    route TEXT NOT NULL,
    signature TEXT NOT NULL,
    primary_answer TEXT NOT NULL,
    shadow_answer TEXT NOT NULL
);
CREATE INDEX shadow_sample_signature ON shadow_sample (route, signature);
