// A program written against the client generated from db-adapter's /openapi.json
// (openapi-typescript types + openapi-fetch), as a new user would write it. run.sh type-checks it
// with tsc --noEmit, runs it, and checks that a copy with a misspelled column fails the check.
import createClient from "openapi-fetch";
import type { paths } from "./gen/api.js";

declare const process: { argv: string[]; exit(code: number): never };

const [port, key] = process.argv.slice(2);
const client = createClient<paths>({
  baseUrl: `http://127.0.0.1:${port}`,
  headers: { Authorization: `Bearer ${key}` },
});

function check(ok: boolean, what: string): void {
  if (!ok) {
    console.error(`typed client: FAIL ${what}`);
    process.exit(1);
  }
  console.log(`typed client: ok ${what}`);
}

// A read with a filter and an order: each column is a query parameter taking a PostgREST filter.
const read = await client.GET("/tables/compat_items", {
  params: { query: { category: "eq.a", order: "score.desc", select: "id,name,category,score" } },
});
check(read.error === undefined && read.data !== undefined, "GET compat_items answered rows");
const rows = read.data ?? [];
check(rows.length === 2 && rows[0].name === "bravo" && rows[1].name === "alpha",
  "category=eq.a&order=score.desc gave bravo, alpha");
const firstScore: number | null = rows[0].score;
check(firstScore === 20, "score typed as number | null");

// An insert answered with the row (Prefer: return=representation).
const name = `typed-${Date.now()}`;
const ins = await client.POST("/tables/compat_items", {
  params: { header: { Prefer: "return=representation" } },
  body: { name, category: "t", score: 7 },
});
check(ins.response.status === 201, "POST compat_items answered 201");
const created = ins.data ?? [];
check(created.length === 1 && created[0].name === name && created[0].category === "t" &&
  typeof created[0].id === "number", "the inserted row came back typed");

// A function call.
const sum = await client.POST("/tables/rpc/compat_add", { body: { a: 2, b: 40 } });
check(sum.data === 42, "rpc compat_add(2, 40) = 42");

const del = await client.DELETE("/tables/compat_items", { params: { query: { name: `eq.${name}` } } });
check(del.response.status === 204, "DELETE the inserted row");
