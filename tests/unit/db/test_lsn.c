/* test_lsn.c - pg_lsn text parsing (X-Db-Min-Lsn, replay polls). */
#include <criterion/criterion.h>

#include "db/db.h"

Test(lsn, parses_pg_lsn_text)
{
    uint64_t v = 0;
    cr_expect(dba_db_lsn_parse("0/3000060", &v));
    cr_expect_eq(v, 0x3000060u);
    cr_expect(dba_db_lsn_parse("16/B374D848", &v));
    cr_expect_eq(v, ((uint64_t)0x16 << 32) | 0xB374D848u);
    cr_expect(dba_db_lsn_parse("FFFFFFFF/FFFFFFFF", &v));
    cr_expect_eq(v, UINT64_MAX);
}

Test(lsn, refuses_anything_else)
{
    static const char *const bad[] = { "", "/", "0/", "/1", "1", "0x1/2", "-1/2", "1/-2",
                                       "1/2 ", " 1/2", "1/2/3", "100000000/0", "0/100000000",
                                       "g/1", "1/2x" };
    uint64_t v = 42;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_expect_not(dba_db_lsn_parse(bad[i], &v), "'%s' accepted", bad[i]);
    cr_expect_eq(v, 42, "left untouched");
    cr_expect_not(dba_db_lsn_parse(NULL, &v));
}
