#!/usr/bin/env python3
"""Helpers for bench/run (standard library only).

  tools.py freeport                          print a free TCP port on 127.0.0.1
  tools.py capture LOG OFFSET OUT.json       statements logged (log_statement=all) after byte
                                             OFFSET of the PostgreSQL log -> [{"sql", "params",
                                             "values"}] (values: the bound parameters as text)
  tools.py duration LOG OFFSET               seconds of the longest statement logged (by
                                             log_min_duration_statement) after OFFSET
  tools.py pgscript STMTS.json OUT.sql [--set 'v=expr']... [--param '1=:id']...
                                             a pgbench script running those statements with
                                             $n replaced by pgbench variables or expressions;
                                             --param 'K:n=expr' replaces $n in statement K only
                                             (0-based), --captured 'K=prefix' every $n of
                                             statement K by :prefix<n> (see pgvars)
  tools.py pgvars STMTS.json K PREFIX        pgbench -D options (NUL-separated) that set
                                             :PREFIX<n> to statement K's captured $n
  tools.py stmt-index STMTS.json PREFIX     index of the first statement starting with PREFIX
  tools.py pgstats STDOUT LOGPREFIX OUT.json pgbench's summary plus latency percentiles from
                                             its --log files
  tools.py hold PORT N PATH STATUS LEN READY open N keep-alive connections, send one GET on
                                             each and check it, write READY (JSON), then hold
                                             them until SIGTERM
  tools.py check-wrk FILE [TICKS]            fail unless every response of a wrk run was right;
                                             TICKS: gateway CPU ticks used, added to FILE
  tools.py check-pgbench FILE                fail unless pgbench ran without failures
  tools.py report DIR OUT.json               print the results table, write OUT.json
"""
import asyncio
import glob
import json
import os
import re
import signal
import socket
import sys

# ------------------------------------------------------------------------------ capture


def cmd_freeport():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        print(s.getsockname()[1])


LOG_STMT = re.compile(r"LOG:\s+(?:execute [^:]+|statement): (.*)$")
LOG_PARAMS = re.compile(r"DETAIL:\s+parameters: (.*)$")
LOG_VALUE = re.compile(r"\$(\d+) = (NULL|'(?:[^']|'')*')")


def cmd_capture(log, offset, out):
    with open(log, "rb") as f:
        f.seek(int(offset))
        text = f.read().decode("utf-8", "replace")
    stmts = []
    for line in text.splitlines():
        m = LOG_STMT.search(line)
        if m:
            sql = m.group(1).strip()
            if sql.upper().startswith(("LISTEN", "ALTER SYSTEM", "SELECT PG_RELOAD_CONF")):
                continue
            stmts.append({"sql": sql, "params": 0, "values": []})
            continue
        m = LOG_PARAMS.search(line)
        if m and stmts:
            vals = LOG_VALUE.findall(m.group(1))
            stmts[-1]["params"] = len(vals)
            stmts[-1]["values"] = [None if v == "NULL" else v[1:-1].replace("''", "'")
                                   for _, v in vals]
    if not stmts:
        sys.exit(f"capture: no statement found in {log} after offset {offset}")
    with open(out, "w") as f:
        json.dump(stmts, f, indent=1)


def cmd_duration(log, offset):
    """Longest 'duration: N ms  execute ...' logged after OFFSET (log_min_duration_statement)."""
    with open(log, "rb") as f:
        f.seek(int(offset))
        text = f.read().decode("utf-8", "replace")
    ms = [float(m.group(1)) for m in re.finditer(r"duration: ([\d.]+) ms\s+execute ", text)]
    if not ms:
        sys.exit(f"duration: no statement duration logged in {log} after offset {offset}")
    print(f"{max(ms) / 1000:.3f}")


def cmd_pgscript(stmts_path, out, opts):
    sets, params, local, captured = [], {}, {}, {}
    it = iter(opts)
    for o in it:
        v = next(it)
        if o == "--set":
            sets.append(v)
        elif o == "--param":
            n, _, expr = v.partition("=")
            if ":" in n:
                k, _, n = n.partition(":")
                local[(int(k), int(n))] = expr
            else:
                params[int(n)] = expr
        elif o == "--captured":
            k, _, prefix = v.partition("=")
            captured[int(k)] = prefix
        else:
            sys.exit(f"pgscript: unknown option {o}")
    with open(stmts_path) as f:
        stmts = json.load(f)
    lines = []
    for s in sets:
        name, _, expr = s.partition("=")
        lines.append(f"\\set {name} {expr}")
    # The gateway sends a request's statements (BEGIN, settings, the statement, COMMIT) pipelined
    # in one round trip; pgbench does the same inside \startpipeline ... \endpipeline.
    pipelined = len(stmts) > 1
    if pipelined:
        lines.append("\\startpipeline")
    for k, st in enumerate(stmts):
        sql = st["sql"]
        for n in range(st["params"], 0, -1):
            if (k, n) in local:
                expr = local[(k, n)]
            elif k in captured:
                expr = f":{captured[k]}{n}"
            elif n in params:
                expr = params[n]
            else:
                sys.exit(f"pgscript: no replacement for ${n} in: {sql}")
            sql = re.sub(r"\$%d(?!\d)" % n, lambda _m, e=expr: e, sql)
        lines.append(sql.rstrip(";") + ";")
    if pipelined:
        lines.append("\\endpipeline")
    with open(out, "w") as f:
        f.write("\n".join(lines) + "\n")


def cmd_pgvars(stmts_path, k, prefix):
    """-D PREFIXn=VALUE for each captured parameter of statement K, NUL-separated (the values
    may hold spaces and quotes; pgbench binds them as parameters with -M prepared, as the
    gateway does)."""
    with open(stmts_path) as f:
        st = json.load(f)[int(k)]
    if len(st.get("values", [])) != st["params"]:
        sys.exit(f"pgvars: the parameters of statement {k} were not captured")
    out = []
    for n, v in enumerate(st["values"], 1):
        if v is None or "\n" in v:
            sys.exit(f"pgvars: ${n} of statement {k} is NULL or spans lines")
        out += ["-D", f"{prefix}{n}={v}"]
    sys.stdout.write("\0".join(out) + "\0")


def cmd_stmt_index(stmts_path, prefix):
    """Index of the first captured statement whose SQL starts with PREFIX."""
    with open(stmts_path) as f:
        stmts = json.load(f)
    for k, st in enumerate(stmts):
        if st["sql"].startswith(prefix):
            print(k)
            return
    sys.exit(f"stmt-index: no statement starting with {prefix!r} in {stmts_path}")


# ------------------------------------------------------------------------------ pgbench


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, int(round(p / 100.0 * len(sorted_vals) + 0.5)) - 1))
    return sorted_vals[k]


def cmd_pgstats(stdout_path, prefix, out):
    with open(stdout_path) as f:
        text = f.read()

    def grab(pattern, cast=float):
        m = re.search(pattern, text, re.M)
        return cast(m.group(1)) if m else None

    res = {
        "tps": grab(r"^tps = ([\d.]+) \(without initial connection time\)"),
        "transactions": grab(r"^number of transactions actually processed: (\d+)", int),
        "failed": grab(r"^number of failed transactions: (\d+)", int) or 0,
        "latency_avg_ms": grab(r"^latency average = ([\d.]+) ms"),
        "latency_stddev_ms": grab(r"^latency stddev = ([\d.]+) ms"),
        "connection_ms": grab(r"^initial connection time = ([\d.]+) ms"),
    }
    # Log lines: client_id transaction_no time script_no time_epoch time_us [schedule_lag].
    # With --rate, time counts from the scheduled start (lag included); latency_ms is then
    # time - lag (from the actual start, as wrk measures) and latency_incl_lag_ms is time.
    lat, incl = [], []
    for path in glob.glob(prefix + ".*"):
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) < 6 or not parts[2].isdigit():
                    continue
                t = int(parts[2])
                if len(parts) >= 7:
                    incl.append(t)
                    t -= int(parts[6])
                lat.append(t)

    def pct(vals):
        vals.sort()
        return {
            "p50": percentile(vals, 50) / 1000 if vals else None,
            "p90": percentile(vals, 90) / 1000 if vals else None,
            "p99": percentile(vals, 99) / 1000 if vals else None,
            "max": vals[-1] / 1000 if vals else None,
            "samples": len(vals),
        }

    res["latency_ms"] = pct(lat)
    if incl:
        res["latency_incl_lag_ms"] = pct(incl)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)


# ------------------------------------------------------------------------------ hold


async def hold_one(port, path, status, length, sem, conns, stats):
    async with sem:
        try:
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 30)
            w.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: keep-alive\r\n\r\n"
                    .encode())
            head = await asyncio.wait_for(r.readuntil(b"\r\n\r\n"), 30)
            lines = head.decode("latin-1").split("\r\n")
            code = int(lines[0].split()[1])
            clen = 0
            for h in lines[1:]:
                k, _, v = h.partition(":")
                if k.strip().lower() == "content-length":
                    clen = int(v.strip())
            body = await asyncio.wait_for(r.readexactly(clen), 30)
            if code == status and len(body) == length:
                stats["ok"] += 1
            else:
                stats["bad"] += 1
                stats.setdefault("bad_sample", {"status": code, "len": len(body)})
            conns.append((r, w))
        except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError, ValueError) as e:
            stats["failed"] += 1
            stats.setdefault("error", repr(e))


async def hold_main(port, n, path, status, length, ready):
    conns, stats = [], {"ok": 0, "bad": 0, "failed": 0}
    sem = asyncio.Semaphore(200)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await asyncio.gather(*(hold_one(port, path, status, length, sem, conns, stats)
                           for _ in range(n)))
    stats["open"] = len(conns)
    stats["open_s"] = round(loop.time() - t0, 3)
    with open(ready + ".tmp", "w") as f:
        json.dump(stats, f)
    os.rename(ready + ".tmp", ready)
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    await stop.wait()
    for _, w in conns:
        w.close()


def cmd_hold(port, n, path, status, length, ready):
    asyncio.run(hold_main(int(port), int(n), path, int(status), int(length), ready))


# ------------------------------------------------------------------------------ checks


def cmd_check_wrk(path, ticks=None):
    with open(path) as f:
        r = json.load(f)
    if ticks is not None:
        cpu = int(ticks) / os.sysconf("SC_CLK_TCK")
        r["gateway_cpu_s"] = round(cpu, 2)
        r["gateway_cpu_us_per_req"] = round(cpu * 1e6 / r["ok"]) if r["ok"] else None
        with open(path, "w") as f:
            json.dump(r, f)
    errs = {k: v for k, v in r["errors"].items() if v}
    if r["bad"] or errs or not r["ok"]:
        sys.exit(f"{os.path.basename(path)}: {r['ok']} right responses, {r['bad']} wrong "
                 f"(first wrong: {r['bad_sample']}), socket errors {errs or 'none'}")
    print(f"{r['ok']} responses, all right; {r['rps']:.0f} req/s, p50 {r['latency_ms']['p50']:.2f} ms, "
          f"p99 {r['latency_ms']['p99']:.2f} ms, gateway CPU {r.get('gateway_cpu_us_per_req')} us/req")


def cmd_check_pgbench(path):
    with open(path) as f:
        r = json.load(f)
    if not r.get("tps") or not r.get("transactions") or r.get("failed"):
        sys.exit(f"{os.path.basename(path)}: pgbench did not run cleanly: {r}")
    print(f"{r['transactions']} transactions; {r['tps']:.0f} tps, avg {r['latency_avg_ms']} ms, "
          f"p99 {r['latency_ms']['p99']} ms")


# ------------------------------------------------------------------------------ report


def load(d, name):
    p = os.path.join(d, name)
    if not os.path.exists(p):
        return None
    with open(p) as f:
        return json.load(f)


def fmt(v, spec="{:.2f}"):
    return "-" if v is None else spec.format(v)


CASES = [
    (1, "GET one row by PK", "get_one", 0.5),
    (2, "GET page of 100 rows", "get_page", 0.7),
    (3, "POST one row", "post", 0.5),
    (5, "PATCH one row by PK", "patch", 0.5),
    (6, "GET one row by PK, JWT", "get_one", 0.6),
    (7, "GETSingleEmbed", "embed_one", 0.6),
    (8, "GETAllEmbed", "embed_all", 0.6),
    (9, "POST /rpc one row by key", "rpc_one", 0.6),
    (11, "POST /transaction 3 ops", "tx3", 0.5),
]


def case_rows(d):
    rows = []
    for num, title, key, target in CASES:
        g, db = load(d, f"case{num}.wrk.json"), load(d, f"case{num}.pgbench.json")
        if not g or not db:
            continue
        ratio = g["rps"] / db["tps"] if db.get("tps") else None
        rows.append({
            "case": num, "name": title,
            "gateway": {"rps": round(g["rps"], 1), "requests": g["requests"], "ok": g["ok"],
                        "latency_ms": g["latency_ms"],
                        "cpu_us_per_req": g.get("gateway_cpu_us_per_req")},
            "database": {"tps": db["tps"], "transactions": db["transactions"],
                         "latency_avg_ms": db["latency_avg_ms"],
                         "latency_stddev_ms": db["latency_stddev_ms"],
                         "latency_ms": db["latency_ms"]},
            "ratio": round(ratio, 3) if ratio else None, "target": target,
            "meets_target": bool(ratio and ratio >= target),
        })
    bulk = load(d, "case4.json")
    if bulk:
        ratio = bulk["copy_s"] / bulk["gateway_s"]
        rows.append({
            "case": 4, "name": "bulk insert 100,000 rows",
            "gateway": {"seconds": bulk["gateway_s"], "rows_per_s": round(bulk["rows"] / bulk["gateway_s"]),
                        "body_bytes": bulk["json_bytes"], "all_s": bulk["gateway_all_s"],
                        "statement_s": bulk["statement_s"], "statement_all_s": bulk["statement_all_s"],
                        "cpu_s": bulk["gateway_cpu_s"], "cpu_all_s": bulk["gateway_cpu_all_s"]},
            "database": {"seconds": bulk["copy_s"], "rows_per_s": round(bulk["rows"] / bulk["copy_s"]),
                         "csv_bytes": bulk["csv_bytes"], "all_s": bulk["copy_all_s"]},
            "ratio": round(ratio, 3), "target": 0.5, "meets_target": ratio >= 0.5,
        })
    b10 = load(d, "case10.json")
    if b10:
        ratio = b10["psql_s"] / b10["gateway_s"]
        rows.append({
            "case": 10, "name": "bulk update 10,000 rows by key",
            "gateway": {"seconds": b10["gateway_s"], "all_s": b10["gateway_all_s"],
                        "rows_per_s": round(b10["rows"] / b10["gateway_s"])},
            "database": {"seconds": b10["psql_s"], "all_s": b10["psql_all_s"],
                         "rows_per_s": round(b10["rows"] / b10["psql_s"])},
            "ratio": round(ratio, 3), "target": 0.5, "meets_target": ratio >= 0.5,
        })
    rows.sort(key=lambda r: r["case"])
    return rows


def print_table(res):
    print()
    print(f"{'case':<27} {'gw req/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'cpu us':>6} | "
          f"{'db tps':>9} {'avg ms':>7} {'p50 ms':>7} {'p99 ms':>7} | {'gw/db':>6} {'target':>6}")
    print("-" * 114)
    for r in res["cases"]:
        ok = "ok" if r["meets_target"] else "MISSED"
        if r["case"] in (4, 10):
            g, db = r["gateway"], r["database"]
            title = '4 bulk insert 100k rows' if r["case"] == 4 else '10 bulk update 10k rows'
            print(f"{title:<27} {g['rows_per_s']:>9} {g['seconds']:>7.2f}s"
                  f"{'':>15} | {db['rows_per_s']:>9} {db['seconds']:>7.2f}s{'':>15} | "
                  f"{r['ratio']:>6.2f} {r['target']:>5}{'' if r['meets_target'] else '!'}  {ok}")
            continue
        g, db = r["gateway"], r["database"]
        print(f"{str(r['case']) + ' ' + r['name']:<27} {g['rps']:>9.0f} "
              f"{g['latency_ms']['p50']:>7.2f} {g['latency_ms']['p99']:>7.2f} "
              f"{fmt(g['cpu_us_per_req'], '{:.0f}'):>6} | "
              f"{db['tps']:>9.0f} {fmt(db['latency_avg_ms']):>7} {fmt(db['latency_ms']['p50']):>7} "
              f"{fmt(db['latency_ms']['p99']):>7} | {fmt(r['ratio']):>6} {r['target']:>5}"
              f"{'' if r['meets_target'] else '!'}  {ok}")
    print("(cpu us: gateway CPU time per request; bulk: wall seconds for 100,000 rows, ratio = "
          "COPY time / gateway time)")
    for r in res["cases"]:
        if r["case"] == 4:
            g = r["gateway"]
            print(f"case 4, gateway rounds: wall {g['all_s']} s, of which its INSERT statement ran "
                  f"{g['statement_all_s']} s in PostgreSQL; gateway CPU {g['cpu_all_s']} s")
    tok = res.get("token_cost")
    if tok:
        print(f"case 6, gateway CPU per request: {fmt(tok['with_token_us'], '{:.0f}')} us with the "
              f"token (cache hit), {fmt(tok['anonymous_us'], '{:.0f}')} us anonymous on the same "
              f"gateway (same statements, anon role), {fmt(tok['case1_us'], '{:.0f}')} us in case 1 "
              f"(no auth group); token cost {fmt(tok['token_hit_us'], '{:+.0f}')} us, auth unit "
              f"cost {fmt(tok['unit_us'], '{:+.0f}')} us (anonymous {tok['anonymous_rps']:.0f} req/s)")
    lat = res.get("latency_half_peak")
    if lat:
        g, db = lat["gateway"], lat.get("database")
        print(f"\ncase 1 at half the peak rate ({g['rate_target']:.0f} req/s): gateway achieved "
              f"{g['rps']:.0f} req/s, p50 {g['latency_ms']['p50']:.2f} ms, p90 "
              f"{g['latency_ms']['p90']:.2f} ms, p99 {g['latency_ms']['p99']:.2f} ms "
              f"(target <= 5 ms: {'ok' if lat['meets_target'] else 'MISSED'})")
        if db:
            print(f"  pgbench -R at the same rate: {db['tps']:.0f} tps, p50 "
                  f"{fmt(db['latency_ms']['p50'])} ms, p90 {fmt(db['latency_ms']['p90'])} ms, p99 "
                  f"{fmt(db['latency_ms']['p99'])} ms (from the actual start; with schedule lag: "
                  f"p99 {fmt(db.get('latency_incl_lag_ms', {}).get('p99'))} ms)")
    mem = res.get("memory")
    if mem:
        print("\nmemory of the gateway (MB)      VmRSS   VmHWM  target")
        for key, title, target in MEM_ROWS:
            m = mem.get(key)
            if not m:
                continue
            t = "" if target is None else (f"<= {target}: " + ("ok" if m["meets_target"] else "MISSED"))
            print(f"  {title:<29} {m['rss_mb']:>6.1f}  {m['hwm_mb']:>6.1f}  {t}")
        h = mem.get("hold_10k")
        if h:
            print(f"  ({h['open']} connections opened in {h['open_s']} s, {h['ok']} answered "
                  f"correctly; fd limit {h.get('fd_limit')})")
        s = mem.get("case1_run")
        if s:
            print(f"  RSS during case 1: first {s['first_mb']:.1f} MB, last {s['last_mb']:.1f} MB, "
                  f"max {s['max_mb']:.1f} MB over {s['samples']} samples")
        s = mem.get("case8_run")
        if s:
            print(f"  RSS during case 8 (GETAllEmbed): first {s['first_mb']:.1f} MB, last "
                  f"{s['last_mb']:.1f} MB, max {s['max_mb']:.1f} MB over {s['samples']} samples")
        s = mem.get("soak")
        if s:
            print(f"  soak ({s['seconds']} s of case 1): RSS first {s['first_mb']:.1f} MB, last "
                  f"{s['last_mb']:.1f} MB, max {s['max_mb']:.1f} MB")


MEM_ROWS = [
    ("idle", "idle after start", 20),
    ("case1", "after case 1 (32 conns)", None),
    ("hold_10k", "holding 10k idle keep-alive", 200),
    ("case8", "after GETAllEmbed (case 8)", None),
    ("after_bulk", "after the bulk insert", None),
]


def mem_entry(d, name, target):
    m = load(d, name)
    if not m:
        return None
    m["rss_mb"] = m["rss_kb"] / 1024
    m["hwm_mb"] = m["hwm_kb"] / 1024
    if target is not None:
        m["target_mb"] = target
        m["meets_target"] = m["rss_mb"] <= target
    return m


def rss_series(path):
    if not os.path.exists(path):
        return None
    with open(path) as f:
        vals = [int(x) for x in f.read().split() if x.isdigit()]
    if not vals:
        return None
    return {"first_mb": vals[0] / 1024, "last_mb": vals[-1] / 1024, "max_mb": max(vals) / 1024,
            "samples": len(vals)}


def cmd_report(d, out):
    res = load(d, "meta.json") or {}
    res["cases"] = case_rows(d)
    anon, c1, c6 = load(d, "case6anon.wrk.json"), load(d, "case1.wrk.json"), load(d, "case6.wrk.json")
    if anon and c1 and c6:
        w, a, n = (x.get("gateway_cpu_us_per_req") for x in (c6, anon, c1))
        res["token_cost"] = {
            "with_token_us": w, "anonymous_us": a, "case1_us": n,
            "token_hit_us": w - a if w is not None and a is not None else None,
            "unit_us": a - n if a is not None and n is not None else None,
            "anonymous_rps": round(anon["rps"], 1), "anonymous_latency_ms": anon["latency_ms"],
            "note": "gateway CPU (utime+stime) per request; with_token: case 6 (Bearer, one "
                    "token reused: cache hit); anonymous: the same GET without a token on the "
                    "same gateway (anon_role = the same role: same statements, no token); "
                    "case1: the gateway without an auth group (one statement, no unit)"}
    lat = load(d, "latency.wrk.json")
    if lat:
        res["latency_half_peak"] = {"gateway": lat, "database": load(d, "latency.pgbench.json"),
                                    "target_p99_ms": 5.0,
                                    "meets_target": lat["latency_ms"]["p99"] <= 5.0}
    mem = {}
    for key, _, target in MEM_ROWS:
        e = mem_entry(d, f"mem.{key}.json", target)
        if e:
            mem[key] = e
    hold = load(d, "hold.json")
    if hold and "hold_10k" in mem:
        mem["hold_10k"].update(hold)
    s = rss_series(os.path.join(d, "rss.case1.txt"))
    if s:
        mem["case1_run"] = s
    s = rss_series(os.path.join(d, "rss.case8.txt"))
    if s:
        mem["case8_run"] = s
    s = rss_series(os.path.join(d, "rss.soak.txt"))
    if s:
        s["seconds"] = res.get("settings", {}).get("soak_s")
        mem["soak"] = s
    res["memory"] = mem
    sql = {}
    for p in sorted(glob.glob(os.path.join(d, "case*.pgbench.sql"))):
        with open(p) as f:
            sql[os.path.basename(p).split(".")[0]] = f.read()
    res["pgbench_scripts"] = sql
    bulk_sql = load(d, "case4.stmts.json")
    if bulk_sql:
        res["case4_gateway_statements"] = [st["sql"] for st in bulk_sql]
    print_table(res)
    with open(out, "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")


# ------------------------------------------------------------------------------ main


def main():
    a = sys.argv[1:]
    if not a:
        sys.exit(__doc__)
    cmd, args = a[0], a[1:]
    if cmd == "freeport" and not args:
        cmd_freeport()
    elif cmd == "capture" and len(args) == 3:
        cmd_capture(*args)
    elif cmd == "duration" and len(args) == 2:
        cmd_duration(*args)
    elif cmd == "pgscript" and len(args) >= 2:
        cmd_pgscript(args[0], args[1], args[2:])
    elif cmd == "pgvars" and len(args) == 3:
        cmd_pgvars(*args)
    elif cmd == "stmt-index" and len(args) == 2:
        cmd_stmt_index(*args)
    elif cmd == "pgstats" and len(args) == 3:
        cmd_pgstats(*args)
    elif cmd == "hold" and len(args) == 6:
        cmd_hold(*args)
    elif cmd == "check-wrk" and len(args) in (1, 2):
        cmd_check_wrk(*args)
    elif cmd == "check-pgbench" and len(args) == 1:
        cmd_check_pgbench(*args)
    elif cmd == "report" and len(args) == 2:
        cmd_report(*args)
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
