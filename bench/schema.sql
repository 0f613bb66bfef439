-- The bench table: 100,000 rows. Every column is rendered with a fixed width (the pad key of
-- payload makes up for the varying number of digits of id), so every row's JSON has the same
-- length and bench/run can check each response's body size exactly.
CREATE TABLE bench (
    id int PRIMARY KEY,
    name text,
    score int,
    created_at timestamptz,
    tags text[],
    payload jsonb
);

INSERT INTO bench
SELECT i, 'name-' || lpad(i::text, 6, '0'), 100 + i % 900,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '1 minute',
       ARRAY['tag' || (i % 10), 'grp' || (i % 7)],
       jsonb_build_object('n', i % 10, 'pad', repeat('x', 6 - length(i::text)))
FROM generate_series(1, 100000) AS i;

VACUUM ANALYZE bench;

-- Case 6 (a GET with a JWT, issue 10): the second gateway connects as `bench_authenticator`
-- (LOGIN NOINHERIT: no privileges of its own, as README "Identity" recommends) and switches to
-- `bench_user`, which may read `bench`. Roles belong to the cluster, so they may exist already.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_user') THEN
        CREATE ROLE bench_user NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'bench_authenticator') THEN
        CREATE ROLE bench_authenticator LOGIN NOINHERIT;
    END IF;
END $$;
GRANT bench_user TO bench_authenticator;
GRANT SELECT ON bench TO bench_user;
