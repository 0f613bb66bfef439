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

-- Cases 7 and 8 (embedding, issue 11): PostgREST's own embedding benchmarks run on the Chinook
-- sample database; this is a synthetic schema of the same shape and about its size: 275
-- artists, 350 albums (Chinook: 347), 3,500 tracks (Chinook: 3,503), 25 genres. Every album has
-- 10 tracks and every value has a fixed width (ids have a fixed number of digits), so every
-- GETSingleEmbed response has the same length and bench/run checks each one exactly.
CREATE TABLE artist (
    artist_id int PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE genre (
    genre_id int PRIMARY KEY,
    name text NOT NULL
);
CREATE TABLE album (
    album_id int PRIMARY KEY,
    title text NOT NULL,
    artist_id int NOT NULL REFERENCES artist
);
CREATE TABLE track (
    track_id int PRIMARY KEY,
    name text NOT NULL,
    album_id int REFERENCES album,
    genre_id int REFERENCES genre,
    composer text,
    milliseconds int NOT NULL,
    bytes int NOT NULL,
    unit_price numeric(10, 2) NOT NULL
);
CREATE INDEX track_album_id ON track (album_id);
CREATE INDEX track_genre_id ON track (genre_id);
CREATE INDEX album_artist_id ON album (artist_id);

INSERT INTO artist SELECT 1000 + i, 'artist-' || lpad(i::text, 4, '0') FROM generate_series(1, 275) AS i;
INSERT INTO genre SELECT 10 + i, 'genre-' || lpad(i::text, 3, '0') FROM generate_series(1, 25) AS i;
INSERT INTO album
SELECT 1000 + i, 'album title ' || lpad(i::text, 4, '0'), 1000 + 1 + (i - 1) % 275
FROM generate_series(1, 350) AS i;
INSERT INTO track
SELECT 10000 + i, 'track name ' || lpad(i::text, 5, '0'), 1000 + 1 + (i - 1) / 10,
       10 + 1 + (i * 7) % 25, 'composer ' || lpad((i % 500)::text, 3, '0'),
       100000 + (i * 7919) % 800000, 1000000 + (i * 104729) % 8000000, 0.99
FROM generate_series(1, 3500) AS i;
VACUUM ANALYZE artist, genre, album, track;

-- Case 9 (functions, issue 12): POST /rpc/bench_get, a stable SQL function returning one row by
-- key.
CREATE FUNCTION bench_get(p_id int) RETURNS bench
    LANGUAGE sql STABLE
    AS $$ SELECT * FROM bench WHERE id = p_id $$;
GRANT SELECT ON artist, genre, album, track TO bench_user;
