/* test_json_scan.c - the validating JSON scanner and string decoding. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/core.h"

static bool
valid(const char *s)
{
    size_t n = strlen(s);
    size_t end = dba_json_value(s, n, 0, NULL);
    return end != DBA_JSON_BAD && dba_json_ws(s, n, end) == n;
}

Test(json_scan, accepts_valid_documents)
{
    const char *ok[] = { "{}", "[]", " [ {\"a\" : 1 , \"b\":[true,false,null]} ] ", "0", "-0.5e+10",
                         "\"\\u00e9\\n\\\"\"", "[1.50, 12345678901234567890, 1E3]",
                         "{\"k\":{\"n\":[{\"x\":[]}]}}", "\"\xc3\xa9t\xc3\xa9\"" };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        cr_expect(valid(ok[i]), "%s", ok[i]);
}

Test(json_scan, rejects_malformed_documents)
{
    const char *bad[] = { "", "[", "{", "[1,]", "{\"a\"}", "{\"a\":1,}", "[01]", "[1.]", "[.5]",
                          "[+1]", "\"\x01\"", "\"\\x\"", "\"\\u12g4\"", "tru", "nul", "[1 2]",
                          "{a:1}", "[\"unterminated]", "-", "1e" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect(!valid(bad[i]), "accepted: %s", bad[i]);
}

Test(json_scan, types)
{
    enum dba_json_type t;
    dba_json_value("{}", 2, 0, &t);
    cr_expect_eq(t, DBA_JSON_OBJECT);
    dba_json_value(" [1]", 4, 0, &t);
    cr_expect_eq(t, DBA_JSON_ARRAY);
    dba_json_value("\"s\"", 3, 0, &t);
    cr_expect_eq(t, DBA_JSON_STRING);
    dba_json_value("false", 5, 0, &t);
    cr_expect_eq(t, DBA_JSON_BOOL);
    dba_json_value("null", 4, 0, &t);
    cr_expect_eq(t, DBA_JSON_NULL);
    dba_json_value("-2", 2, 0, &t);
    cr_expect_eq(t, DBA_JSON_NUMBER);
}

Test(json_scan, deep_nesting_is_refused)
{
    char s[2100];
    memset(s, '[', 1000);
    memset(s + 1000, ']', 1000);
    s[2000] = '\0';
    cr_expect(!valid(s));
}

static void
expect_unescape(const char *in, const char *want)
{
    struct dba_buf b;
    dba_buf_init(&b);
    cr_assert(dba_json_unescape(&b, in, strlen(in)), "%s", in);
    cr_expect_str_eq(b.data ? b.data : "", want);
    dba_buf_cleanup(&b);
}

Test(json_scan, unescape)
{
    expect_unescape("\"plain\"", "plain");
    expect_unescape("\"\"", "");
    expect_unescape("\"a\\\"b\\\\c\\/d\\n\\t\"", "a\"b\\c/d\n\t");
    expect_unescape("\"\\u00e9t\\u00e9\"", "\xc3\xa9t\xc3\xa9");
    expect_unescape("\"\\ud83c\\udf49\"", "\xf0\x9f\x8d\x89");
    expect_unescape("\"x\\u2603y\"", "x\xe2\x98\x83y");
    struct dba_buf b;
    dba_buf_init(&b);
    cr_expect(!dba_json_unescape(&b, "\"\\u0000\"", 8));
    dba_buf_reset(&b);
    cr_expect(!dba_json_unescape(&b, "\"\\ud800\"", 8));
    dba_buf_cleanup(&b);
}
