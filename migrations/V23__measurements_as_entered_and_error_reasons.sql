-- Measurements keep what was entered beside the value in the kind's reference unit, and the
-- reason a measurement was flagged as entered in error.
--
-- `value` (sealed) stays the value in the kind's reference unit (kg, cm, mmHg, g/L...): flags,
-- charts and the undernutrition criteria read it. `entered_value` (sealed) is the figure as the
-- professional read it on the instrument, in `entered_unit` (5.5 in mmol/L beside 0.99 g/L).
-- The unit is a code, like the kind and the flag, and says nothing of the person: it stays in
-- clear, so that this migration can give the rows written before it their unit. Their value was
-- entered in the kind's reference unit (a glucose entered in mmol/L was stored converted, and its
-- figure as entered is lost), so what was entered is what is stored: their `entered_value` is
-- left empty, which reads as `value` (a migration cannot seal a value: the keys are not in the
-- database). So do rows imported from a tenant export written before this version, whose unit
-- is empty too.
ALTER TABLE measurements
    ADD COLUMN entered_value bytea,
    ADD COLUMN entered_unit text CONSTRAINT measurements_entered_unit_format
        CHECK (char_length(entered_unit) BETWEEN 1 AND 16),
    -- Why it was flagged as entered in error (sealed); required since this version, so rows
    -- flagged before have none.
    ADD COLUMN error_reason bytea,
    ADD CONSTRAINT measurements_error_reason_when_flagged CHECK (error_reason IS NULL OR error_at IS NOT NULL);

-- Row-level security is forced on the table, its owner included: lifted for the owner's update
-- of every tenant's rows, and forced again in the same transaction.
ALTER TABLE measurements NO FORCE ROW LEVEL SECURITY;
UPDATE measurements SET entered_unit = CASE kind
    WHEN 'weight' THEN 'kg'
    WHEN 'height' THEN 'cm'
    WHEN 'blood_pressure' THEN 'mmHg'
    WHEN 'pulse' THEN 'bpm'
    WHEN 'temperature' THEN '°C'
    WHEN 'spo2' THEN '%'
    WHEN 'blood_glucose' THEN 'g/L'
    WHEN 'pain' THEN '/10'
    WHEN 'respiratory_rate' THEN '/min'
END;
ALTER TABLE measurements FORCE ROW LEVEL SECURITY;

-- Flagging in error reseals the row's values with the reason under the active key.
GRANT UPDATE (entered_value, error_reason) ON measurements TO dui_app;
