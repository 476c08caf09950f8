-- The paths that differed between two answers of the shadow side, for a comparison whose
-- route asks both sides twice (`noise_both_sides: true`); JSON text like `noise`.
ALTER TABLE shadow_comparison ADD COLUMN shadow_noise TEXT;
