/* Runs the libcio-pg examples against the test cluster and checks their story. */
#include "pg_fixture.h"

static char *run(const char *prog, const char *dsn)
{
    static char out[65536];
    char cmd[768];
    snprintf(cmd, sizeof cmd, "%s/%s '%s' 2>&1", CIO_EXAMPLES_DIR, prog, dsn);
    FILE *p = popen(cmd, "r");
    CIO_ASSERT(p != NULL);
    size_t n = fread(out, 1, sizeof out - 1, p);
    out[n] = 0;
    CIO_ASSERT_EQ(pclose(p), 0);
    return out;
}

static void test_fetch(void)
{
    char *out = run("pg_fetch", pgfx.dsn_tcp);
    CIO_ASSERT(strstr(out, "{'id': 1, 'name': 'Ada'}\n{'id': 2, 'name': 'Grace'}\n"));
    CIO_ASSERT(strstr(out, "{'id': 5, 'name': 'Ken'}\n"));
    CIO_ASSERT(!strstr(out, "Dennis")); /* LIMIT 5 */
}

static void test_pool(void)
{
    char *out = run("pg_pool", pgfx.dsn_unix);
    CIO_ASSERT(strstr(out, "row 0: id 0 md5 cfcd208495d565ef66e7dff9f98764da"));
    CIO_ASSERT(strstr(out, "row 99: id 99 md5 ac627ab1ccbdb62ec96e702f07f6425b"));
    unsigned conns = 0;
    const char *t = strstr(out, "100 rows through ");
    CIO_ASSERT(t && sscanf(t, "100 rows through %u connections", &conns) == 1);
    CIO_ASSERT(conns >= 2 && conns <= 10);
}

static void test_jobqueue(void)
{
    char *out = run("pg_jobqueue", pgfx.dsn_unix);
    /* Every job done once (SKIP LOCKED: no job claimed by two workers). */
    CIO_ASSERT(strstr(out, "60 of 60 jobs done, 60 claims; per worker:") != NULL);
}

static void test_bad_dsn(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "%s/pg_fetch 'host=127.0.0.1 port=1' >/dev/null 2>&1",
             CIO_EXAMPLES_DIR);
    CIO_ASSERT_NE(system(cmd), 0);
}

static const cio_test_case tests[] = {
    CIO_TEST(test_fetch, "pg_fetch: connect, fetch five rows, close, as the guide prints them"),
    CIO_TEST(test_pool, "pg_pool: 100 rows queried concurrently through a pool of at most 10"),
    CIO_TEST(test_jobqueue, "pg_jobqueue: 4 workers on a pool drain a table queue fed with "
                            "executemany and NOTIFY; each job done exactly once"),
    CIO_TEST(test_bad_dsn, "pg_fetch fails with a message and a non-zero status"),
};

PG_TEST_MAIN(tests)
