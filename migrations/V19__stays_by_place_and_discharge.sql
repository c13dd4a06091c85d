-- The residents present in a unit or an establishment are found through the stays of that place
-- that are not discharged, or discharged later than today. The index ends with the discharge
-- date so that both halves of that condition are ranges of it: a place that has seen years of
-- residents come and go is read for the ones there now, not for its whole history.
CREATE INDEX stays_by_unit_and_discharge ON stays (tenant_id, unit_id, discharged_on) WHERE unit_id IS NOT NULL;
CREATE INDEX stays_by_establishment_and_discharge ON stays (tenant_id, establishment_id, discharged_on);
-- Both served by the new ones.
DROP INDEX stays_by_unit;
DROP INDEX stays_current_by_establishment;
