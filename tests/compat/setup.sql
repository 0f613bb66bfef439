-- Roles and row-level security for the supabase-style checks in compat.mjs, loaded by run.sh as
-- the superuser before the server starts (the server connects as compat_authenticator, LOGIN
-- NOINHERIT, granted the API roles); safe to run again. Names of their own, so that this never
-- races tests/fixtures/auth.sql (the integration suite) for a role. run.sh drops compat_notes
-- when it ends; the roles and grants stay in the throwaway cluster.
SET client_min_messages = warning;
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['compat_anon', 'compat_user', 'compat_service'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'compat_authenticator') THEN
        CREATE ROLE compat_authenticator LOGIN NOINHERIT;
    END IF;
END $$;
GRANT compat_anon, compat_user, compat_service TO compat_authenticator;
GRANT USAGE ON SCHEMA public TO compat_anon, compat_user, compat_service;

-- compat_items (tests/fixtures/schema.sql): the anonymous role reads it, the service role (the
-- supabase "service key") does everything the earlier checks do.
GRANT SELECT ON compat_items TO compat_anon;
GRANT SELECT, INSERT, UPDATE, DELETE ON compat_items TO compat_service;
GRANT USAGE ON SEQUENCE compat_items_id_seq TO compat_service;

-- Rows owned by the token's `sub`.
DROP TABLE IF EXISTS compat_notes;
CREATE TABLE compat_notes (
    id serial PRIMARY KEY,
    owner text NOT NULL DEFAULT (current_setting('request.jwt.claims', true)::json ->> 'sub'),
    body text NOT NULL
);
ALTER TABLE compat_notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON compat_notes TO compat_user
    USING (owner = current_setting('request.jwt.claims', true)::json ->> 'sub')
    WITH CHECK (owner = current_setting('request.jwt.claims', true)::json ->> 'sub');
GRANT SELECT, INSERT, UPDATE, DELETE ON compat_notes TO compat_user;
GRANT USAGE ON SEQUENCE compat_notes_id_seq TO compat_user;
INSERT INTO compat_notes (owner, body) VALUES ('alice', 'a1'), ('alice', 'a2'), ('bob', 'b1');

-- Functions for rpc() (tests/compat/compat.mjs).
CREATE OR REPLACE FUNCTION compat_add(a int, b int) RETURNS int
    LANGUAGE sql IMMUTABLE AS $$ SELECT a + b $$;
CREATE OR REPLACE FUNCTION compat_items_in(cat text) RETURNS SETOF compat_items
    LANGUAGE sql STABLE AS $$ SELECT * FROM compat_items WHERE category = cat ORDER BY id $$;
GRANT EXECUTE ON FUNCTION compat_add(int, int), compat_items_in(text)
    TO compat_anon, compat_user, compat_service;

-- Embedding (issue 11): authors 1-n books, a book without an author; dropped by run.sh.
DROP TABLE IF EXISTS compat_books, compat_authors;
CREATE TABLE compat_authors (id int PRIMARY KEY, name text NOT NULL);
CREATE TABLE compat_books (
    id int PRIMARY KEY,
    title text NOT NULL,
    author_id int REFERENCES compat_authors (id)
);
INSERT INTO compat_authors VALUES (1, 'Ada'), (2, 'Brook'), (3, 'Cyd');
INSERT INTO compat_books VALUES (1, 'Alpha', 1), (2, 'Beta', 1), (3, 'Gamma', 2), (4, 'Orphan', NULL);
GRANT SELECT ON compat_authors, compat_books TO compat_anon, compat_service;
