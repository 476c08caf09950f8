-- Gated ramps and notifications (issue 17, part 1 and 2; numbered apart so another change's
-- migration cannot take the same version): a route's ramp state beside its other scalar overrides (JSON
-- text, like schedule), and the evidence each instance gathers at a ramp's step.
ALTER TABLE route_flag ADD COLUMN ramp TEXT;
ALTER TABLE route_flag ADD COLUMN ramp_by BIGINT;

-- One row per route, step and instance: that instance's counts of the new side's requests
-- since the step began (since_ms, the step's start, keys the step). Each instance upserts
-- its own row; the instance deciding an advance sums the step's rows. latency is a JSON
-- array of counts per latency bucket of the ramp's gates.
CREATE TABLE ramp_evidence (
    route TEXT NOT NULL,
    since_ms BIGINT NOT NULL,
    instance TEXT NOT NULL,
    requests BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    latency TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    PRIMARY KEY (route, since_ms, instance)
);

-- Notifications that more than one instance could send (a ramp's step waiting on a gate):
-- the instance whose INSERT of the notice's id lands sends it, the others see the key taken.
CREATE TABLE notification_claim (
    id TEXT PRIMARY KEY,
    at_ms BIGINT NOT NULL
);
