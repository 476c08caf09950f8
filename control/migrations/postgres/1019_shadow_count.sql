-- Comparisons that need no row of their own, counted instead (issue #20): a match with no
-- difference and no noise probe, a skip with no difference. A writer's batch adds one row
-- per route, second, verdict and skip reason; readers sum them. `at_ms` is the earliest
-- counted comparison's time, unix milliseconds.
CREATE TABLE shadow_count (
    at_ms BIGINT NOT NULL,
    route TEXT NOT NULL,
    verdict TEXT NOT NULL,
    skip TEXT,
    count BIGINT NOT NULL
);
CREATE INDEX shadow_count_at ON shadow_count (at_ms);
CREATE INDEX shadow_count_route_at ON shadow_count (route, at_ms);
