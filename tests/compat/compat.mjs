// Compatibility test: drives db-adapter with the official PostgREST client, @supabase/postgrest-js
// (pinned in package.json), and checks every answer exactly: status, data, count and error.
//
//   node compat.mjs PORT            base URL http://127.0.0.1:PORT/tables
//   COMPAT_BASE_URL=URL node compat.mjs
//
// Needs DBA_TEST_DATABASE_URL (the test database, see tests/fixtures/schema.sql): the table
// compat_items is truncated and reseeded with psql before the first call, so ids start at 1.
// The calls run in order and later expectations depend on earlier writes.
//
// Identity, as supabase-js calls it (`apikey` + `Authorization: Bearer` headers): run.sh loads
// setup.sql (roles, compat_notes under row-level security), starts the server with an auth group
// (anon_role compat_anon) and passes tokens minted with `db-adapter token` in COMPAT_ANON_KEY,
// COMPAT_SERVICE_KEY (the earlier checks run with it), COMPAT_ALICE, COMPAT_BOB (role
// compat_user, sub alice / bob) and COMPAT_EXPIRED.
// Exit status: 0 when every check passed, 1 when one failed, 2 on a usage or setup error.

import { execFileSync } from 'node:child_process';
import { inspect, isDeepStrictEqual } from 'node:util';
import { PostgrestClient } from '@supabase/postgrest-js';

const port = process.argv[2];
const base = process.env.COMPAT_BASE_URL ?? (port ? `http://127.0.0.1:${port}/tables` : null);
const dbUrl = process.env.DBA_TEST_DATABASE_URL;
if (!base || !dbUrl) {
  process.stderr.write('usage: DBA_TEST_DATABASE_URL=... node compat.mjs PORT\n');
  process.exit(2);
}

const SEED = `
SET client_min_messages = warning;
TRUNCATE compat_items RESTART IDENTITY;
INSERT INTO compat_items (name, category, score, created_at) VALUES
    ('alpha', 'a', 10, '2024-02-01 00:00:00+00'),
    ('bravo', 'a', 20, '2024-02-02 00:00:00+00'),
    ('charlie', 'b', 30, '2024-02-03 00:00:00+00'),
    ('delta', 'b', NULL, '2024-02-04 00:00:00+00'),
    ('echo', NULL, 50, '2024-02-05 00:00:00+00');
`;

function reseed() {
  try {
    execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', dbUrl, '-c', SEED], {
      env: { ...process.env, PGTZ: 'UTC' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
  } catch (e) {
    process.stderr.write(`compat: cannot reseed compat_items: ${e.stderr ?? e.message}\n`);
    process.exit(2);
  }
}

const keys = {};
for (const k of ['ANON_KEY', 'SERVICE_KEY', 'ALICE', 'BOB', 'EXPIRED']) {
  keys[k] = process.env[`COMPAT_${k}`];
  if (!keys[k]) {
    process.stderr.write(`compat: COMPAT_${k} is not set (run through run.sh)\n`);
    process.exit(2);
  }
}

// A client with these headers, as supabase-js builds it: createClient(url, key) sends the key as
// `apikey` and as the bearer token; a signed-in user's token replaces the bearer only.
const client = (headers) => new PostgrestClient(base, { headers, retry: false, timeout: 10000 });
const supa = (key, bearer = key) => client({ apikey: key, Authorization: `Bearer ${bearer}` });

const db = supa(keys.SERVICE_KEY);
const t = () => db.from('compat_items');

const show = (v) => inspect(v, { depth: 5, breakLength: Infinity });

let total = 0;
let failed = 0;

// Runs one client call and compares its answer with `want`: status, data (deep, exact), count
// (null unless given) and error (null unless given; a given error is compared field by field).
// `sortBy` sorts returned rows by that key first, for answers whose order is unspecified.
async function check(name, query, want) {
  total += 1;
  let res;
  try {
    res = await query;
  } catch (e) {
    failed += 1;
    console.log(`not ok ${total} ${name}: threw ${e?.stack ?? e}`);
    return;
  }
  let data = res.data;
  if (want.sortBy && Array.isArray(data)) {
    data = [...data].sort((x, y) => String(x[want.sortBy]).localeCompare(String(y[want.sortBy])));
  }
  const problems = [];
  if (res.status !== want.status) problems.push(`status ${res.status}, want ${want.status}`);
  if (!isDeepStrictEqual(data, want.data ?? null)) {
    problems.push(`data ${show(data)}, want ${show(want.data ?? null)}`);
  }
  if (res.count !== (want.count ?? null)) problems.push(`count ${res.count}, want ${want.count ?? null}`);
  if (want.error) {
    if (!res.error) {
      problems.push(`no error, want ${show(want.error)}`);
    } else {
      for (const [k, v] of Object.entries(want.error)) {
        if (!isDeepStrictEqual(res.error[k], v)) problems.push(`error.${k} ${show(res.error[k])}, want ${show(v)}`);
      }
    }
  } else if (res.error) {
    problems.push(`unexpected error ${show(res.error)}`);
  }
  if (problems.length === 0) {
    console.log(`ok ${total} ${name}`);
  } else {
    failed += 1;
    console.log(`not ok ${total} ${name}\n    ${problems.join('\n    ')}`);
  }
}

const row = (id, name, category, score) => ({ id, name, category, score });

reseed();

// ---------------------------------------------------------------- reads

await check('select all, order by id', t().select('id,name,category,score').order('id'), {
  status: 200,
  data: [row(1, 'alpha', 'a', 10), row(2, 'bravo', 'a', 20), row(3, 'charlie', 'b', 30),
    row(4, 'delta', 'b', null), row(5, 'echo', null, 50)],
});
await check('eq', t().select('id,name').eq('category', 'a').order('id'), {
  status: 200, data: [{ id: 1, name: 'alpha' }, { id: 2, name: 'bravo' }],
});
await check('gt, order desc', t().select('name').gt('score', 15).order('score', { ascending: false }), {
  status: 200, data: [{ name: 'echo' }, { name: 'charlie' }, { name: 'bravo' }],
});
await check('neq and lte (nulls excluded)', t().select('id').neq('category', 'a').lte('score', 30).order('id'), {
  status: 200, data: [{ id: 3 }],
});
await check('in (with a missing value)', t().select('id').in('name', ['alpha', 'delta', 'zulu']).order('id'), {
  status: 200, data: [{ id: 1 }, { id: 4 }],
});
await check('like %ha%', t().select('name').like('name', '%ha%').order('name'), {
  status: 200, data: [{ name: 'alpha' }, { name: 'charlie' }],
});
await check('ilike *LT*', t().select('name').ilike('name', '*LT*').order('name'), {
  status: 200, data: [{ name: 'delta' }],
});
await check('is null', t().select('id').is('score', null), { status: 200, data: [{ id: 4 }] });
await check('not is null, order desc', t().select('id').not('category', 'is', null).order('id', { ascending: false }), {
  status: 200, data: [{ id: 4 }, { id: 3 }, { id: 2 }, { id: 1 }],
});
await check('or', t().select('id').or('score.gte.50,category.eq.b').order('id'), {
  status: 200, data: [{ id: 3 }, { id: 4 }, { id: 5 }],
});
await check('match', t().select('name').match({ category: 'a', score: 10 }), {
  status: 200, data: [{ name: 'alpha' }],
});
await check('order nullsfirst', t().select('name').order('score', { ascending: true, nullsFirst: true }), {
  status: 200,
  data: [{ name: 'delta' }, { name: 'alpha' }, { name: 'bravo' }, { name: 'charlie' }, { name: 'echo' }],
});
await check('order on two columns (asc nulls last, desc nulls first)',
  t().select('name').order('category').order('score', { ascending: false }), {
    status: 200,
    data: [{ name: 'bravo' }, { name: 'alpha' }, { name: 'delta' }, { name: 'charlie' }, { name: 'echo' }],
  });
await check('range(1, 2)', t().select('id').order('id').range(1, 2), {
  status: 200, data: [{ id: 2 }, { id: 3 }],
});
await check('limit', t().select('id').order('id', { ascending: false }).limit(2), {
  status: 200, data: [{ id: 5 }, { id: 4 }],
});
await check('count exact, head', t().select('*', { count: 'exact', head: true }).eq('category', 'a'), {
  status: 200, data: null, count: 2,
});
await check('count exact with a partial range (206)', t().select('id', { count: 'exact' }).order('id').range(0, 1), {
  status: 206, data: [{ id: 1 }, { id: 2 }], count: 5,
});
await check('single (timestamptz in UTC)', t().select('id,name,created_at').eq('id', 3).single(), {
  status: 200, data: { id: 3, name: 'charlie', created_at: '2024-02-03T00:00:00+00:00' },
});
await check('single with two rows -> 406', t().select('id').eq('category', 'a').single(), {
  status: 406,
  error: {
    code: 'PGRST116', message: 'Cannot coerce the result to a single JSON object',
    details: 'The result contains 2 rows', hint: null,
  },
});
await check('maybeSingle, no row', t().select('id').eq('name', 'nobody').maybeSingle(), {
  status: 200, data: null,
});
await check('maybeSingle, one row', t().select('id').eq('name', 'echo').maybeSingle(), {
  status: 200, data: { id: 5 },
});

// ---------------------------------------------------------------- writes

await check('insert one, select', t().insert({ name: 'foxtrot', category: 'c', score: 60 }).select('id,name,category,score'), {
  status: 201, data: [row(6, 'foxtrot', 'c', 60)],
});
await check('insert one, return=minimal', t().insert({ name: 'golf' }), { status: 201, data: null });
await check('bulk insert, select (missing keys -> null)',
  t().insert([{ name: 'hotel', score: 1 }, { name: 'india', category: 'd' }]).select('id,name,category,score'), {
    status: 201, data: [row(8, 'hotel', null, 1), row(9, 'india', 'd', null)], sortBy: 'id',
  });
await check('insert, select, single', t().insert({ name: 'kilo', score: 5 }).select('name,score').single(), {
  status: 201, data: { name: 'kilo', score: 5 },
});
await check('upsert on_conflict=name (merge)',
  t().upsert([{ name: 'alpha', category: 'z', score: 11 }, { name: 'juliet', category: 'z', score: 99 }],
    { onConflict: 'name' }).select('name,category,score'), {
    status: 201,
    data: [{ name: 'alpha', category: 'z', score: 11 }, { name: 'juliet', category: 'z', score: 99 }],
    sortBy: 'name',
  });
await check('upsert ignoreDuplicates', t().upsert({ name: 'bravo', score: 999 }, { onConflict: 'name', ignoreDuplicates: true }).select('name,score'), {
  status: 201, data: [],
});
await check('update, select', t().update({ score: 21 }).eq('name', 'bravo').select('id,name,score'), {
  status: 200, data: [{ id: 2, name: 'bravo', score: 21 }],
});
await check('update two rows, return=minimal', t().update({ category: 'b2' }).eq('category', 'b'), {
  status: 204, data: null,
});
await check('update nothing, count exact', t().update({ score: 0 }, { count: 'exact' }).eq('name', 'nobody'), {
  status: 204, data: null, count: 0,
});
await check('delete, select', t().delete().eq('name', 'golf').select('id,name'), {
  status: 200, data: [{ id: 7, name: 'golf' }],
});
await check('delete three rows, count exact', t().delete({ count: 'exact' }).in('name', ['hotel', 'india', 'kilo']), {
  status: 204, data: null, count: 3,
});

// .rollback() sends Prefer: tx=rollback; run.sh starts the server with
// server.tx_end = "commit-allow-override", so the answer is the write's but nothing stays (the
// final state below still has echo's score 50 and 7 rows).
await check('insert, select, rollback', t().insert({ name: 'lima', score: 7 }).select('name,score').rollback(), {
  status: 201, data: [{ name: 'lima', score: 7 }],
});
await check('update, select, rollback', t().update({ score: 1000 }).eq('name', 'echo').select('name,score').rollback(), {
  status: 200, data: [{ name: 'echo', score: 1000 }],
});
await check('after the rollbacks', t().select('name,score').in('name', ['lima', 'echo']), {
  status: 200, data: [{ name: 'echo', score: 50 }],
});

// ---------------------------------------------------------------- formats and errors

await check('csv', t().select('id,name,score').lt('id', 5).order('id').csv(), {
  status: 200, data: 'id,name,score\n1,alpha,11\n2,bravo,21\n3,charlie,30\n4,delta,',
});
await check('unknown table -> 404 PGRST205', db.from('xyzzy_missing').select('*'), {
  status: 404,
  error: {
    code: 'PGRST205', message: "Could not find the table 'public.xyzzy_missing' in the schema cache",
    details: null, hint: null,
  },
});
await check('unique violation -> 409 23505', t().insert({ name: 'alpha' }), {
  status: 409,
  error: {
    code: '23505', message: 'duplicate key value violates unique constraint "compat_items_name_key"',
    details: 'Key (name)=(alpha) already exists.', hint: null,
  },
});
await check('unknown column -> 400 42703', t().select('nope'), {
  status: 400, error: { code: '42703' },
});

// ---------------------------------------------------------------- final state

await check('final rows', t().select('name,category,score').order('name'), {
  status: 200,
  data: [
    { name: 'alpha', category: 'z', score: 11 },
    { name: 'bravo', category: 'a', score: 21 },
    { name: 'charlie', category: 'b2', score: 30 },
    { name: 'delta', category: 'b2', score: null },
    { name: 'echo', category: null, score: 50 },
    { name: 'foxtrot', category: 'c', score: 60 },
    { name: 'juliet', category: 'z', score: 99 },
  ],
});
await check('final count, head', t().select('*', { count: 'exact', head: true }), {
  status: 200, data: null, count: 7,
});

// ---------------------------------------------------------------- identity (supabase-style)

reseed();
const noToken = client({});
const anon = supa(keys.ANON_KEY);
const alice = supa(keys.ANON_KEY, keys.ALICE);
const bob = supa(keys.ANON_KEY, keys.BOB);
const notes = (c) => c.from('compat_notes');
const ids = [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }, { id: 5 }];

await check('no token: anonymous select (anon_role)', noToken.from('compat_items').select('id').order('id'), {
  status: 200, data: ids,
});
await check('no token: anonymous insert -> 401 42501', noToken.from('compat_items').insert({ name: 'zulu' }), {
  status: 401,
  error: { code: '42501', message: 'permission denied for table compat_items', details: null, hint: null },
});
await check('no token: private table -> 401 42501', notes(noToken).select('id'), {
  status: 401, error: { code: '42501', message: 'permission denied for table compat_notes' },
});
await check('anon key (apikey + Authorization): select', anon.from('compat_items').select('id').order('id'), {
  status: 200, data: ids,
});
await check('apikey header alone (anon key): select', client({ apikey: keys.ANON_KEY }).from('compat_items').select('id').order('id'), {
  status: 200, data: ids,
});
await check("alice's token sees only alice's rows", notes(alice).select('owner,body').order('id'), {
  status: 200, data: [{ owner: 'alice', body: 'a1' }, { owner: 'alice', body: 'a2' }],
});
await check("bob's token sees only bob's rows", notes(bob).select('id,owner,body'), {
  status: 200, data: [{ id: 3, owner: 'bob', body: 'b1' }],
});
await check("alice cannot update bob's row (no row matches)", notes(alice).update({ body: 'mine' }).eq('id', 3).select('id'), {
  status: 200, data: [],
});
await check("alice cannot delete bob's row, count exact", notes(alice).delete({ count: 'exact' }).eq('id', 3), {
  status: 204, data: null, count: 0,
});
await check('alice inserts: owner from her sub', notes(alice).insert({ body: 'a3' }).select('id,owner,body'), {
  status: 201, data: [{ id: 4, owner: 'alice', body: 'a3' }],
});
await check('alice cannot insert a row owned by bob -> 403 42501', notes(alice).insert({ owner: 'bob', body: 'x' }), {
  status: 403,
  error: {
    code: '42501', message: 'new row violates row-level security policy for table "compat_notes"',
    details: null, hint: null,
  },
});
await check("apikey header alone (user token): alice's rows", client({ apikey: keys.ALICE }).from('compat_notes').select('body').order('id'), {
  status: 200, data: [{ body: 'a1' }, { body: 'a2' }, { body: 'a3' }],
});
await check('Authorization wins over apikey', supa(keys.BOB, keys.ALICE).from('compat_notes').select('owner').eq('body', 'a3'), {
  status: 200, data: [{ owner: 'alice' }],
});
await check("bob's row unchanged", notes(bob).select('id,owner,body'), {
  status: 200, data: [{ id: 3, owner: 'bob', body: 'b1' }],
});
await check('expired token -> 401 PGRST303', supa(keys.ANON_KEY, keys.EXPIRED).from('compat_items').select('id'), {
  status: 401, error: { code: 'PGRST303', details: null, hint: null },
});
const forged = `${keys.ALICE.slice(0, keys.ALICE.lastIndexOf('.') + 1)}${'A'.repeat(43)}`;
await check('forged signature -> 401 PGRST301', supa(keys.ANON_KEY, forged).from('compat_notes').select('id'), {
  status: 401, error: { code: 'PGRST301', details: null, hint: null },
});
await check('garbage token -> 401 PGRST301', supa(keys.ANON_KEY, 'not-a-jwt').from('compat_items').select('id'), {
  status: 401, error: { code: 'PGRST301' },
});

// ---------------------------------------------------------------- rpc()

reseed();
await check('rpc POST', db.rpc('compat_add', { a: 2, b: 3 }), { status: 200, data: 5 });
await check('rpc {get: true}', db.rpc('compat_add', { a: 2, b: 3 }, { get: true }), {
  status: 200, data: 5,
});
await check('rpc {head: true, count: exact}', db.rpc('compat_items_in', { cat: 'a' }, { head: true, count: 'exact' }), {
  status: 200, data: null, count: 2,
});
await check('rpc set-returning .select().eq().limit()', db.rpc('compat_items_in', { cat: 'b' }).select('id,name').eq('id', 4).limit(1), {
  status: 200, data: [{ id: 4, name: 'delta' }],
});
await check('rpc unknown argument -> 404 PGRST202', db.rpc('compat_add', { a: 1, z: 2 }), {
  status: 404, error: { code: 'PGRST202', hint: 'Perhaps you meant to call the function public.compat_add(a, b)' },
});

// ---------------------------------------------------------------- embedding (issue 11)

const books = () => db.from('compat_books');
const authors = () => db.from('compat_authors');

await check("select('*, author:compat_authors(name)')", books().select('*, author:compat_authors(name)').order('id'), {
  status: 200,
  data: [
    { id: 1, title: 'Alpha', author_id: 1, author: { name: 'Ada' } },
    { id: 2, title: 'Beta', author_id: 1, author: { name: 'Ada' } },
    { id: 3, title: 'Gamma', author_id: 2, author: { name: 'Brook' } },
    { id: 4, title: 'Orphan', author_id: null, author: null },
  ],
});
await check('one-to-many embed', authors().select('name, compat_books(title)').order('id').order('id', { referencedTable: 'compat_books' }), {
  status: 200,
  data: [
    { name: 'Ada', compat_books: [{ title: 'Alpha' }, { title: 'Beta' }] },
    { name: 'Brook', compat_books: [{ title: 'Gamma' }] },
    { name: 'Cyd', compat_books: [] },
  ],
});
await check('!inner with an embedded filter', books().select('title, compat_authors!inner(name)').eq('compat_authors.name', 'Ada').order('id'), {
  status: 200,
  data: [{ title: 'Alpha', compat_authors: { name: 'Ada' } }, { title: 'Beta', compat_authors: { name: 'Ada' } }],
});
await check('!inner with an embedded filter, count exact', authors().select('name, compat_books!inner(title)', { count: 'exact' }).like('compat_books.title', '%a').order('id'), {
  status: 200,
  data: [{ name: 'Ada', compat_books: [{ title: 'Alpha' }, { title: 'Beta' }] }, { name: 'Brook', compat_books: [{ title: 'Gamma' }] }],
  count: 2,
});
await check('referenced-table order and range', authors().select('name, compat_books(title)')
  .order('id')
  .order('title', { referencedTable: 'compat_books', ascending: false })
  .range(0, 0, { referencedTable: 'compat_books' }), {
  status: 200,
  data: [
    { name: 'Ada', compat_books: [{ title: 'Beta' }] },
    { name: 'Brook', compat_books: [{ title: 'Gamma' }] },
    { name: 'Cyd', compat_books: [] },
  ],
});
await check('referenced-table limit through an alias', authors().select('name, b:compat_books(title)')
  .eq('id', 1).order('title', { referencedTable: 'b' }).limit(1, { referencedTable: 'b' }), {
  status: 200, data: [{ name: 'Ada', b: [{ title: 'Alpha' }] }],
});
await check('spread', books().select('title, ...compat_authors(author:name)').order('id'), {
  status: 200,
  data: [
    { title: 'Alpha', author: 'Ada' },
    { title: 'Beta', author: 'Ada' },
    { title: 'Gamma', author: 'Brook' },
    { title: 'Orphan', author: null },
  ],
});
await check('embed filtered by is null (no rows)', authors().select('name, compat_books()').is('compat_books', null), {
  status: 200, data: [{ name: 'Cyd' }],
});
await check('unknown relationship -> 400 PGRST200', books().select('*, nope(*)'), {
  status: 400, error: { code: 'PGRST200' },
});

// ---------------------------------------------------------------- beyond PostgREST (issue 15)

reseed();
await check('bulk update by key: update([...]) without a filter', t().update([{ id: 1, score: 11 }, { id: 2, category: null }]).select('id,category,score'), {
  status: 200, sortBy: 'id', data: [{ id: 1, category: 'a', score: 11 }, { id: 2, category: null, score: 20 }],
});
await check('update with an object and no filter is still refused', t().update({ score: 0 }), {
  status: 400, error: { code: '21000' },
});

// POST /transaction with plain fetch, as the service role.
const txUrl = new URL('/transaction', base).href;
const tx = async (operations) => {
  const res = await fetch(txUrl, {
    method: 'POST',
    headers: { apikey: keys.SERVICE_KEY, Authorization: `Bearer ${keys.SERVICE_KEY}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ operations }),
  });
  const body = await res.json();
  return res.ok ? { status: res.status, data: body, error: null, count: null }
                : { status: res.status, data: null, error: body, count: null };
};
await check('/transaction: insert, then update it by reference', tx([
  { method: 'POST', path: '/tables/compat_items?select=id,name', headers: { Prefer: 'return=representation' }, body: { name: 'foxtrot', category: 'f' } },
  { method: 'PATCH', path: '/tables/compat_items?id=eq.${0/0/id}&select=name,score', headers: { Prefer: 'return=representation' }, body: { score: 60 } },
]), {
  status: 200,
  data: { results: [
    { status: 201, headers: { 'Preference-Applied': 'return=representation' }, body: [{ id: 6, name: 'foxtrot' }] },
    { status: 200, headers: { 'Content-Range': '0-0/*', 'Preference-Applied': 'return=representation' }, body: [{ name: 'foxtrot', score: 60 }] },
  ] },
});
await check('/transaction: a failing operation rolls back the ones before', tx([
  { method: 'POST', path: '/tables/compat_items', body: { name: 'golf' } },
  { method: 'PATCH', path: '/tables/compat_items?name=eq.golf', body: { nope: 1 } },
]), {
  status: 400, error: { code: 'PGRST204', operation: 1 },
});
await check('... nothing of it is left', t().select('name').eq('name', 'golf'), { status: 200, data: [] });

reseed();
console.log(`compat: ${total - failed}/${total} passed${failed ? `, ${failed} failed` : ''}`);
process.exit(failed ? 1 : 0);
