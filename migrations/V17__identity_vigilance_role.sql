-- The identity-vigilance referent (référent en identitovigilance): checks identities and alone
-- merges records found to be the same person.
ALTER TABLE memberships DROP CONSTRAINT memberships_role_valid;
ALTER TABLE memberships ADD CONSTRAINT memberships_role_valid CHECK (role IN
    ('tenant_admin', 'director', 'coordinating_physician', 'nurse', 'care_assistant', 'psychologist',
     'social_worker', 'educator', 'home_helper', 'administrative_staff', 'identity_vigilance'));
