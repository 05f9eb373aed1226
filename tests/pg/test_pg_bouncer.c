/* libcio-pg through pgbouncer 1.18 in transaction mode: with named
 * statements off, many tasks on several client connections sharing one
 * server connection get the right answers, pipelined, with transactions. */
#include "pg_fixture.h"

#define PGBOUNCER "/usr/sbin/pgbouncer"

static int bouncer_port;
static pid_t bouncer_pid;
static char bouncer_dsn[256];

/* Starts pgbouncer (as postgres when root: it refuses root) in front of the
 * fixture's server, one server connection for everyone. */
static void start_bouncer(void)
{
    if (access(PGBOUNCER, X_OK) != 0)
        CIO_SKIP("no pgbouncer");
    bouncer_port = pgfx_free_port();
    char ini[128], users[128];
    snprintf(ini, sizeof ini, "%s/pgbouncer.ini", pgfx.dir);
    snprintf(users, sizeof users, "%s/users.txt", pgfx.dir);
    FILE *f = fopen(users, "w");
    CIO_ASSERT(f != NULL);
    fprintf(f, "\"postgres\" \"\"\n");
    fclose(f);
    f = fopen(ini, "w");
    CIO_ASSERT(f != NULL);
    fprintf(f,
            "[databases]\npostgres = host=%s port=%d dbname=postgres user=postgres\n"
            "[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = %d\nunix_socket_dir =\n"
            "auth_type = trust\nauth_file = %s\npool_mode = transaction\n"
            "default_pool_size = 1\nmax_client_conn = 50\n",
            pgfx.dir, pgfx.port, bouncer_port, users);
    fclose(f);
    char *argv[] = {PGBOUNCER, ini, NULL};
    bouncer_pid = pgfx_spawn(argv);
    snprintf(bouncer_dsn, sizeof bouncer_dsn,
             "host=127.0.0.1 port=%d user=postgres dbname=postgres", bouncer_port);
    for (int i = 0; i < 1500; i++) {
        if (PQping(bouncer_dsn) == PQPING_OK)
            return;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    pgfx_dump_log();
    CIO_FAIL_AT("pgbouncer did not start");
}

static void stop_bouncer(void)
{
    kill(bouncer_pid, SIGTERM);
    waitpid(bouncer_pid, NULL, 0);
}

typedef struct client {
    cio_pg_conn *c;
    int id;
    int ok;
} client;

static int queries(void *arg)
{
    client *cl = arg;
    for (int i = 0; i < 50; i++) {
        cio_pg_param p[] = {cio_pg_int4(cl->id * 1000 + i), cio_pg_text("x")};
        cio_pg_result *r;
        int err = cio_pg_fetch(cl->c, &r, "SELECT $1::int4 + 1, $2::text || 'y'", p, 2);
        if (err)
            return err;
        int64_t v;
        const char *s;
        if (cio_pg_get_int(r, 0, 0, &v) == 0 && v == cl->id * 1000 + i + 1 &&
            cio_pg_get_text(r, 0, 1, &s, NULL) == 0 && strcmp(s, "xy") == 0)
            cl->ok++;
        cio_pg_result_free(r);
        if (cl->id < 3 && i % 10 == 0) { /* one task per connection */
            cio_pg_tx tx;
            err = cio_pg_tx_begin(&tx, cl->c, NULL);
            if (!err)
                err = cio_pg_execute(cl->c, "SELECT pg_sleep(0.001)", NULL, 0, NULL);
            err = err ? err : cio_pg_tx_end(&tx, 0);
            if (err)
                return err;
        }
    }
    return 0;
}

static int t_bouncer_main(void *arg)
{
    (void)arg;
    cio_pg_opts o = {.no_named_statements = 1};
    enum { CONNS = 3, PER = 4 };
    cio_pg_conn *conns[CONNS];
    for (int i = 0; i < CONNS; i++)
        CIO_ASSERT_OK(cio_pg_connect(&conns[i], bouncer_dsn, &o));
    client cl[CONNS * PER];
    cio_task *t[CONNS * PER];
    for (int i = 0; i < CONNS * PER; i++) {
        cl[i] = (client){conns[i % CONNS], i, 0};
        t[i] = cio_spawn(queries, &cl[i]);
    }
    cio_gather(t, CONNS * PER, CIO_RETURN_EXCEPTIONS);
    for (int i = 0; i < CONNS * PER; i++) {
        if (cio_task_status(t[i]))
            fprintf(stderr, "task %d: %s\n", i, cio_task_message(t[i]));
        CIO_ASSERT_OK(cio_join(t[i]));
        CIO_ASSERT_EQ(cl[i].ok, 50);
    }
    /* One server connection served them all, and holds no named statement. */
    cio_pg_conn *direct = pg_connect_ok(NULL);
    CIO_ASSERT_EQ(pg_int(direct, "SELECT count(*) FROM pg_stat_activity WHERE "
                                 "backend_type = 'client backend' AND pid <> pg_backend_pid()"),
                  1);
    cio_pg_close(direct);
    CIO_ASSERT_EQ(pg_int(conns[0], "SELECT count(*) FROM pg_prepared_statements"), 0);
    for (int i = 0; i < CONNS; i++)
        cio_pg_close(conns[i]);
    return 0;
}

static void test_bouncer(void)
{
    start_bouncer();
    int err = cio_test_run(t_bouncer_main, NULL);
    stop_bouncer();
    CIO_ASSERT_OK(err);
}

static const cio_test_case tests[] = {
    CIO_TEST(test_bouncer, "through pgbouncer in transaction mode without named statements, 12 "
                           "tasks on 3 client connections sharing one server connection get "
                           "their own answers, with transactions; nothing stays prepared"),
};

PG_TEST_MAIN(tests)
