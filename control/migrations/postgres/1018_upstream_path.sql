-- The target the new side received when the route's `rewrite:` changed it (NULL: the
-- client's own `path`), so a comparison shows both layouts.
ALTER TABLE shadow_comparison ADD COLUMN upstream_path TEXT;
