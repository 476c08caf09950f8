-- The readiness rollup (SQLite): per route and hour, how many requests each side served,
-- how many of the legacy ones were fallbacks, and the shadow comparisons and matches.
-- Numbered from 2001, beside the flag store (0001...) and the diff store (1001...).
-- Every instance adds its counts to the hour's row (an upsert that sums), so a fleet's
-- rows hold the fleet's totals. `hour_ms` is the hour's start, unix milliseconds.
CREATE TABLE route_rollup (
    route TEXT NOT NULL,
    hour_ms INTEGER NOT NULL,
    served_new INTEGER NOT NULL,
    served_legacy INTEGER NOT NULL,
    fallbacks INTEGER NOT NULL,
    comparisons INTEGER NOT NULL,
    matches INTEGER NOT NULL,
    PRIMARY KEY (route, hour_ms)
);
CREATE INDEX route_rollup_hour ON route_rollup (hour_ms);
