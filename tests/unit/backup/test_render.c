/* test_render.c - COPY text-format lines rendered as row_to_json renders the row (render.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "backup/backup_int.h"

TestSuite(backup_render);

/* Renders line with the columns given as (name, kind) pairs, (name, DBA__RENDER_ARRAY, elem)
   for arrays, ending in NULL; returns the JSON (static) or "(refused)". */
static const char *
render(const char *line, ...)
{
    static char res[4096];
    struct dba__render r;
    struct dba_buf out;
    va_list ap;
    dba__render_init(&r);
    va_start(ap, line);
    for (const char *name; (name = va_arg(ap, const char *)) != NULL;)
    {
        int kind = va_arg(ap, int);
        dba__render_add(&r, name, kind, kind == DBA__RENDER_ARRAY ? va_arg(ap, int) : 0);
    }
    va_end(ap);
    dba_buf_init(&out);
    dba_buf_puts(&out, "<");
    bool ok = dba__render_row(&r, &out, line, strlen(line));
    snprintf(res, sizeof(res), "%s", ok ? out.data + 1 : "(refused)");
    cr_expect(ok || out.len == 1, "a refused line leaves the output alone");
    dba_buf_cleanup(&out);
    dba__render_cleanup(&r);
    return res;
}

static int
kind(unsigned oid, unsigned elem_oid, bool iso)
{
    int elem;
    return dba__render_kind(oid, elem_oid, iso, &elem);
}

Test(backup_render, kinds_of_types)
{
    cr_expect_eq(kind(23, 0, true), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(20, 0, true), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(21, 0, false), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(700, 0, true), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(701, 0, true), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(1700, 0, true), DBA__RENDER_NUMBER);
    cr_expect_eq(kind(16, 0, true), DBA__RENDER_BOOL);
    cr_expect_eq(kind(114, 0, true), DBA__RENDER_RAW);
    cr_expect_eq(kind(3802, 0, true), DBA__RENDER_RAW);
    cr_expect_eq(kind(25, 0, true), DBA__RENDER_STRING);
    cr_expect_eq(kind(2950, 0, true), DBA__RENDER_STRING);
    cr_expect_eq(kind(1082, 0, true), DBA__RENDER_DATE);
    cr_expect_eq(kind(1114, 0, true), DBA__RENDER_TIMESTAMP);
    cr_expect_eq(kind(1184, 0, true), DBA__RENDER_TIMESTAMPTZ);
    /* other DateStyles: the server renders dates */
    cr_expect_eq(kind(1082, 0, false), DBA__RENDER_SERVER);
    cr_expect_eq(kind(1114, 0, false), DBA__RENDER_SERVER);
    cr_expect_eq(kind(1184, 0, false), DBA__RENDER_SERVER);
    /* arrays of those (text[], int4[], date[]); of dates in another DateStyle, of other types
       (int4range[]), record, user types: the server */
    int elem;
    cr_expect_eq(dba__render_kind(1009, 25, true, &elem), DBA__RENDER_ARRAY);
    cr_expect_eq(elem, DBA__RENDER_STRING);
    cr_expect_eq(dba__render_kind(1007, 23, false, &elem), DBA__RENDER_ARRAY);
    cr_expect_eq(elem, DBA__RENDER_NUMBER);
    cr_expect_eq(dba__render_kind(1182, 1082, true, &elem), DBA__RENDER_ARRAY);
    cr_expect_eq(elem, DBA__RENDER_DATE);
    cr_expect_eq(kind(1182, 1082, false), DBA__RENDER_SERVER);
    cr_expect_eq(kind(3905, 3904, true), DBA__RENDER_SERVER);
    cr_expect_eq(kind(2249, 0, true), DBA__RENDER_SERVER);
    cr_expect_eq(kind(16385, 0, true), DBA__RENDER_SERVER);
}

Test(backup_render, numbers_booleans_and_nulls)
{
    cr_expect_str_eq(render("7\t-2.50\t1e+300\t-0\tt\tf\t\\N", "a", DBA__RENDER_NUMBER, "b",
                            DBA__RENDER_NUMBER, "c", DBA__RENDER_NUMBER, "d", DBA__RENDER_NUMBER,
                            "e", DBA__RENDER_BOOL, "f", DBA__RENDER_BOOL, "g", DBA__RENDER_NUMBER,
                            NULL),
                     "{\"a\":7,\"b\":-2.50,\"c\":1e+300,\"d\":-0,\"e\":true,\"f\":false,"
                     "\"g\":null}");
    /* NaN and the infinities are strings, as row_to_json writes them */
    cr_expect_str_eq(render("NaN\tInfinity\t-Infinity", "a", DBA__RENDER_NUMBER, "b",
                            DBA__RENDER_NUMBER, "c", DBA__RENDER_NUMBER, NULL),
                     "{\"a\":\"NaN\",\"b\":\"Infinity\",\"c\":\"-Infinity\"}");
    cr_expect(dba__render_json_number("0.5", 3));
    cr_expect(dba__render_json_number("1E-7", 4));
    cr_expect(!dba__render_json_number("", 0));
    cr_expect(!dba__render_json_number("-", 1));
    cr_expect(!dba__render_json_number("01", 2));
    cr_expect(!dba__render_json_number(".5", 2));
    cr_expect(!dba__render_json_number("5.", 2));
    cr_expect(!dba__render_json_number("1e", 2));
    cr_expect(!dba__render_json_number("+1", 2));
    cr_expect(!dba__render_json_number("1x", 2));
    /* every column NULL; an all-NULL line of one column */
    cr_expect_str_eq(render("\\N\t\\N", "a", DBA__RENDER_STRING, "b", DBA__RENDER_RAW, NULL),
                     "{\"a\":null,\"b\":null}");
    cr_expect_str_eq(render("\\N", "a", DBA__RENDER_DATE, NULL), "{\"a\":null}");
}

Test(backup_render, strings_through_copy_escapes)
{
    /* COPY's escapes are undone, then the text is escaped as escape_json does */
    cr_expect_str_eq(render("a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh \"q\" /", "s", DBA__RENDER_STRING,
                            NULL),
                     "{\"s\":\"a\\tb\\nc\\rd\\\\e\\bf\\fg\\u000bh \\\"q\\\" /\"}");
    /* a text that reads \N is not NULL; empty text is "" */
    cr_expect_str_eq(render("\\\\N\t", "a", DBA__RENDER_STRING, "b", DBA__RENDER_STRING, NULL),
                     "{\"a\":\"\\\\N\",\"b\":\"\"}");
    /* control bytes COPY leaves as they are, and octal and hex escapes (COPY FROM's) */
    cr_expect_str_eq(render("\x01\x1f\\001\\x7\\x1F\\101\\x41\\q", "s", DBA__RENDER_STRING, NULL),
                     "{\"s\":\"\\u0001\\u001f\\u0001\\u0007\\u001fAAq\"}");
    /* UTF-8 and DEL pass as they are */
    cr_expect_str_eq(render("\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\x7f", "s", DBA__RENDER_STRING,
                            NULL),
                     "{\"s\":\"\xc3\xa9\xe2\x98\x83\xf0\x9f\x98\x80\x7f\"}");
    /* a lone trailing backslash is kept */
    cr_expect_str_eq(render("x\\", "s", DBA__RENDER_STRING, NULL), "{\"s\":\"x\\\\\"}");
}

Test(backup_render, json_and_server_rendered_columns_as_is)
{
    cr_expect_str_eq(render("{\"a\": [1, \"x\\\\ty\"]}\t[\"s\\\\n\"]\t\"str\"", "j",
                            DBA__RENDER_RAW, "arr", DBA__RENDER_SERVER, "jb", DBA__RENDER_RAW,
                            NULL),
                     "{\"j\":{\"a\": [1, \"x\\ty\"]},\"arr\":[\"s\\n\"],\"jb\":\"str\"}");
    /* a json value holding a raw newline (json keeps its input) */
    cr_expect_str_eq(render("{\"a\":\\n1}", "j", DBA__RENDER_RAW, NULL), "{\"j\":{\"a\":\n1}}");
}

Test(backup_render, dates_and_timestamps_in_xsd_form)
{
    cr_expect_str_eq(render("2024-02-29\tinfinity\t0044-03-15 BC", "a", DBA__RENDER_DATE, "b",
                            DBA__RENDER_DATE, "c", DBA__RENDER_DATE, NULL),
                     "{\"a\":\"2024-02-29\",\"b\":\"infinity\",\"c\":\"0044-03-15 BC\"}");
    cr_expect_str_eq(render("2024-01-01 12:00:00\t2024-01-01 12:00:00.5\t-infinity\t"
                            "0001-01-01 00:00:00 BC",
                            "a", DBA__RENDER_TIMESTAMP, "b", DBA__RENDER_TIMESTAMP, "c",
                            DBA__RENDER_TIMESTAMP, "d", DBA__RENDER_TIMESTAMP, NULL),
                     "{\"a\":\"2024-01-01T12:00:00\",\"b\":\"2024-01-01T12:00:00.5\","
                     "\"c\":\"-infinity\",\"d\":\"0001-01-01T00:00:00 BC\"}");
    cr_expect_str_eq(render("2024-01-01 12:00:00+00\t2024-01-01 12:00:00.123456-08\t"
                            "2024-01-01 17:30:00+05:30\t1900-01-01 00:00:00+00:19:32\t"
                            "infinity\t0001-01-01 00:00:00+00 BC\t12024-01-01 00:00:00+14",
                            "a", DBA__RENDER_TIMESTAMPTZ, "b", DBA__RENDER_TIMESTAMPTZ, "c",
                            DBA__RENDER_TIMESTAMPTZ, "d", DBA__RENDER_TIMESTAMPTZ, "e",
                            DBA__RENDER_TIMESTAMPTZ, "f", DBA__RENDER_TIMESTAMPTZ, "g",
                            DBA__RENDER_TIMESTAMPTZ, NULL),
                     "{\"a\":\"2024-01-01T12:00:00+00:00\","
                     "\"b\":\"2024-01-01T12:00:00.123456-08:00\","
                     "\"c\":\"2024-01-01T17:30:00+05:30\",\"d\":\"1900-01-01T00:00:00+00:19:32\","
                     "\"e\":\"infinity\",\"f\":\"0001-01-01T00:00:00+00:00 BC\","
                     "\"g\":\"12024-01-01T00:00:00+14:00\"}");
}

Test(backup_render, column_names_and_field_counts)
{
    /* names are escaped as escape_json does */
    cr_expect_str_eq(render("1", "we\"ird\\ na\tme", DBA__RENDER_NUMBER, NULL),
                     "{\"we\\\"ird\\\\ na\\tme\":1}");
    /* a table without columns */
    cr_expect_str_eq(render("", NULL), "{}");
    cr_expect_str_eq(render("x", NULL), "(refused)");
    /* too few or too many fields */
    cr_expect_str_eq(render("1", "a", DBA__RENDER_NUMBER, "b", DBA__RENDER_NUMBER, NULL),
                     "(refused)");
    cr_expect_str_eq(render("1\t2\t3", "a", DBA__RENDER_NUMBER, "b", DBA__RENDER_NUMBER, NULL),
                     "(refused)");
    /* empty fields */
    cr_expect_str_eq(render("\t", "a", DBA__RENDER_STRING, "b", DBA__RENDER_STRING, NULL),
                     "{\"a\":\"\",\"b\":\"\"}");
}

Test(backup_render, rows_append_and_reuse_the_scratch)
{
    struct dba__render r;
    struct dba_buf out;
    dba__render_init(&r);
    dba__render_add(&r, "t", DBA__RENDER_TIMESTAMPTZ, 0);
    dba__render_add(&r, "s", DBA__RENDER_STRING, 0);
    dba_buf_init(&out);
    char big[3000];
    memset(big, '\x01', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct dba_buf line;
    dba_buf_init(&line);
    dba_buf_printf(&line, "2024-01-01 00:00:00+01\t%s", big);
    cr_assert(dba__render_row(&r, &out, "2024-01-01 00:00:00+00\tx", 24));
    cr_assert(dba__render_row(&r, &out, line.data, line.len));
    cr_expect_eq(out.len, strlen(out.data));
    cr_expect(strncmp(out.data, "{\"t\":\"2024-01-01T00:00:00+00:00\",\"s\":\"x\"}"
                                "{\"t\":\"2024-01-01T00:00:00+01:00\",\"s\":\"\\u0001",
                      80) == 0, "%s", out.data);
    cr_expect_eq(out.len, 41 + 40 + 6 * (sizeof(big) - 1));
    dba_buf_cleanup(&line);
    dba_buf_cleanup(&out);
    dba__render_cleanup(&r);
}

Test(backup_render, arrays_as_array_to_json_writes_them)
{
    /* text: quoted elements unescaped (COPY's escapes first), NULL and "NULL", empty, nested */
    cr_expect_str_eq(render("{\"a,b\",\"{x}\",\"back\\\\\\\\slash\",NULL,\"NULL\",\"\","
                            "\" sp \",\"q\\\\\"uote\",\"tab\\t\",\u00e9}",
                            "a", DBA__RENDER_ARRAY, DBA__RENDER_STRING, NULL),
                     "{\"a\":[\"a,b\",\"{x}\",\"back\\\\slash\",null,\"NULL\",\"\",\" sp \","
                     "\"q\\\"uote\",\"tab\\t\",\"\u00e9\"]}");
    cr_expect_str_eq(render("{}\t{{1,2},{3,NULL}}\t[0:1]={7,8}\t{NaN,1.50,-Infinity}",
                            "e", DBA__RENDER_ARRAY, DBA__RENDER_STRING, "m", DBA__RENDER_ARRAY,
                            DBA__RENDER_NUMBER, "b", DBA__RENDER_ARRAY, DBA__RENDER_NUMBER, "n",
                            DBA__RENDER_ARRAY, DBA__RENDER_NUMBER, NULL),
                     "{\"e\":[],\"m\":[[1,2],[3,null]],\"b\":[7,8],"
                     "\"n\":[\"NaN\",1.50,\"-Infinity\"]}");
    cr_expect_str_eq(render("{t,f,NULL}\t{\"{\\\\\"a\\\\\": 1}\",\"\\\\\"s\\\\\"\",null}\t"
                            "{2024-01-01,\"0044-03-15 BC\",infinity}\t"
                            "{\"2024-06-01 00:00:00+02\",-infinity}",
                            "b", DBA__RENDER_ARRAY, DBA__RENDER_BOOL, "j", DBA__RENDER_ARRAY,
                            DBA__RENDER_RAW, "d", DBA__RENDER_ARRAY, DBA__RENDER_DATE, "t",
                            DBA__RENDER_ARRAY, DBA__RENDER_TIMESTAMPTZ, NULL),
                     "{\"b\":[true,false,null],\"j\":[{\"a\": 1},\"s\",null],"
                     "\"d\":[\"2024-01-01\",\"0044-03-15 BC\",\"infinity\"],"
                     "\"t\":[\"2024-06-01T00:00:00+02:00\",\"-infinity\"]}");
    /* NULL array; text that is not an array's stays visible as a string */
    cr_expect_str_eq(render("\\N\tx\t{\"open", "a", DBA__RENDER_ARRAY, DBA__RENDER_NUMBER, "b",
                            DBA__RENDER_ARRAY, DBA__RENDER_NUMBER, "c", DBA__RENDER_ARRAY,
                            DBA__RENDER_STRING, NULL),
                     "{\"a\":null,\"b\":\"x\",\"c\":\"{\\\"open\"}");
}
