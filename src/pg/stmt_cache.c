/* The automatic prepared-statement cache of a connection (asyncpg's shape).
 *
 * The key is the SQL text plus the parameter type OIDs. The driver plans a
 * request when it sends it: a known statement runs by name, a new one is
 * prepared (Parse) and run in the same pipeline, so a miss costs no extra
 * round trip. Least recently used entries are evicted past the limit; their
 * DEALLOCATE goes out with the next request. A statement the server rejects
 * as gone or changed (26000, 0A000) is forgotten; query.c retries the query
 * once when that happens outside a transaction. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/alloc.h"
#include "pg_internal.h"

struct stmt_entry {
    stmt_entry *hnext;         /* hash chain */
    stmt_entry *lprev, *lnext; /* LRU list */
    uint64_t hash;
    size_t keylen;
    unsigned char described; /* result columns described: text is known */
    unsigned char text;      /* results requested in text */
    char name[24];
    char key[]; /* sql, NUL, OIDs as 4 bytes each */
};

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ s[i]) * 0x100000001b3ull;
    return h;
}

static size_t cache_max(const cio_pg_conn *c)
{
    return c->opts.statement_cache_size ? c->opts.statement_cache_size : 100;
}

static void lru_unlink(cio_pg_conn *c, stmt_entry *e)
{
    if (e->lprev)
        e->lprev->lnext = e->lnext;
    else
        c->lru_head = e->lnext;
    if (e->lnext)
        e->lnext->lprev = e->lprev;
    else
        c->lru_tail = e->lprev;
    e->lprev = e->lnext = NULL;
}

static void lru_front(cio_pg_conn *c, stmt_entry *e)
{
    e->lprev = NULL;
    e->lnext = c->lru_head;
    if (c->lru_head)
        c->lru_head->lprev = e;
    c->lru_head = e;
    if (!c->lru_tail)
        c->lru_tail = e;
}

static void remove_entry(cio_pg_conn *c, stmt_entry *e)
{
    stmt_entry **pp = &c->stmt_tab[e->hash & (c->stmt_cap - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->stmt_count--;
    free(e);
}

static void queue_deallocate(cio_pg_conn *c, const char *name)
{
    if (c->opts.no_named_statements)
        return; /* the entry only remembered a result format */
    if (c->ndeallocate == c->deallocate_cap) {
        size_t cap = c->deallocate_cap ? 2 * c->deallocate_cap : 8;
        char **n = cio__realloc(c->deallocate, cap * sizeof *n);
        if (!n)
            return; /* the statement just stays on the server */
        c->deallocate = n;
        c->deallocate_cap = cap;
    }
    char *copy = cio__strdup(name);
    if (copy)
        c->deallocate[c->ndeallocate++] = copy;
}

static int key_matches(const stmt_entry *e, const char *sql, const cio_pg_param *params, size_t n,
                       size_t sqllen, size_t keylen)
{
    if (e->keylen != keylen || memcmp(e->key, sql, sqllen + 1) != 0)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (memcmp(e->key + sqllen + 1 + 4 * i, &params[i].oid, 4) != 0)
            return 0;
    return 1;
}

static uint64_t key_hash(const char *sql, size_t sqllen, const cio_pg_param *params, size_t n)
{
    uint64_t h = fnv(sql, sqllen + 1, 0xcbf29ce484222325ull);
    for (size_t i = 0; i < n; i++)
        h = fnv(&params[i].oid, 4, h);
    return h;
}

/* The entry of a statement, or NULL; the most recent one is compared first
 * without hashing (a loop running one query skips the byte-wise hash). */
static stmt_entry *find(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n)
{
    size_t sqllen = strlen(sql);
    size_t keylen = sqllen + 1 + 4 * n;
    stmt_entry *mru = c->lru_head;
    if (mru && key_matches(mru, sql, params, n, sqllen, keylen))
        return mru;
    if (!c->stmt_tab)
        return NULL;
    uint64_t h = key_hash(sql, sqllen, params, n);
    for (stmt_entry *e = c->stmt_tab[h & (c->stmt_cap - 1)]; e; e = e->hnext)
        if (e->hash == h && key_matches(e, sql, params, n, sqllen, keylen))
            return e;
    return NULL;
}

int cio__pg_stmt_format(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n)
{
    stmt_entry *e = find(c, sql, params, n);
    return e && e->described ? e->text : -1;
}

void cio__pg_stmt_set_text(cio_pg_conn *c, const char *sql, const cio_pg_param *params, size_t n,
                           int text)
{
    stmt_entry *e = find(c, sql, params, n);
    if (e) {
        e->described = 1;
        e->text = text != 0;
    }
}

/* Finds or adds s's statement: 1 when cached (prepared on the server), 0
 * when just added (to be prepared with this step), -ENOMEM. Sets s's name
 * and result format. */
static int plan_step(cio_pg_conn *c, pg_step *s)
{
    stmt_entry *e = find(c, s->sql, s->params, s->nparams);
    if (e) {
        if (e != c->lru_head) {
            lru_unlink(c, e);
            lru_front(c, e);
        }
        memcpy(s->name, e->name, sizeof s->name);
        s->text = e->text;
        return 1;
    }
    size_t sqllen = strlen(s->sql);
    size_t keylen = sqllen + 1 + 4 * s->nparams;
    uint64_t h = key_hash(s->sql, sqllen, s->params, s->nparams);
    if (!c->stmt_tab) {
        c->stmt_cap = 64;
        while (c->stmt_cap < 2 * cache_max(c))
            c->stmt_cap *= 2;
        c->stmt_tab = cio__calloc(c->stmt_cap, sizeof *c->stmt_tab);
        if (!c->stmt_tab)
            return -ENOMEM;
    }
    stmt_entry **bucket = &c->stmt_tab[h & (c->stmt_cap - 1)];
    e = cio__malloc(sizeof *e + keylen);
    if (!e)
        return -ENOMEM;
    e->hash = h;
    e->keylen = keylen;
    e->described = e->text = 0;
    memcpy(e->key, s->sql, sqllen + 1);
    for (size_t i = 0; i < s->nparams; i++)
        memcpy(e->key + sqllen + 1 + 4 * i, &s->params[i].oid, 4);
    snprintf(e->name, sizeof e->name, "cio_s%u", ++c->stmt_seq);
    e->hnext = *bucket;
    *bucket = e;
    e->lprev = e->lnext = NULL;
    lru_front(c, e);
    c->stmt_count++;
    memcpy(s->name, e->name, sizeof s->name);
    s->text = 0;
    while (c->stmt_count > cache_max(c)) {
        stmt_entry *old = c->lru_tail;
        queue_deallocate(c, old->name);
        remove_entry(c, old);
    }
    return 0;
}

/* Whether step s can run base's statement: the same types, except that a
 * NULL goes with any type (executemany rows with NULLs share one statement). */
static int fits(const pg_step *base, const pg_step *s)
{
    if (base->sql != s->sql || base->nparams != s->nparams)
        return 0;
    for (size_t i = 0; i < s->nparams; i++)
        if (s->params[i].len >= 0 && s->params[i].oid != base->params[i].oid)
            return 0;
    return 1;
}

/* Without named statements (pgbouncer) the cache only remembers result
 * formats: statements run unnamed and a describe uses the unnamed one. */
static void plan_unnamed(cio_pg_conn *c, pg_req *r)
{
    for (int i = 0; i < r->nsteps; i++) {
        pg_step *s = &r->steps[i];
        if (s->kind == STEP_DESCRIBE) {
            plan_step(c, s);
            s->kind = STEP_PREPARE_DESCRIBE;
            s->name[0] = 0;
        } else if (s->kind == STEP_EXEC && s->cache) {
            const stmt_entry *e = find(c, s->sql, s->params, s->nparams);
            s->text = e ? e->text : 0;
        }
    }
}

int cio__pg_stmt_plan(cio_pg_conn *c, pg_req *r)
{
    if (c->opts.no_named_statements) {
        plan_unnamed(c, r);
        return 0;
    }
    const pg_step *base = NULL; /* the step whose types named the statement in use */
    for (int i = 0; i < r->nsteps; i++) {
        pg_step *s = &r->steps[i];
        if (s->kind == STEP_DESCRIBE) {
            int hit = plan_step(c, s);
            if (hit < 0)
                s->name[0] = 0; /* out of memory: describe it unnamed */
            if (hit <= 0)
                s->kind = STEP_PREPARE_DESCRIBE;
            continue;
        }
        if (s->kind != STEP_EXEC || !s->cache)
            continue;
        /* executemany: the statement of the rows before needs no lookup. */
        if (base && fits(base, s)) {
            s->kind = STEP_EXEC_PREPARED;
            s->text = base->text;
            memcpy(s->name, base->name, sizeof s->name);
            continue;
        }
        int hit = plan_step(c, s);
        base = hit < 0 ? NULL : s;
        if (hit < 0)
            continue; /* out of memory: run it unnamed */
        s->kind = hit ? STEP_EXEC_PREPARED : STEP_PREPARE;
        if (hit)
            r->used_cache = 1;
    }
    return 0;
}

void cio__pg_stmt_forget(cio_pg_conn *c, const char *name, int deallocate)
{
    for (stmt_entry *e = c->lru_head; e; e = e->lnext) {
        if (strcmp(e->name, name) == 0) {
            if (deallocate)
                queue_deallocate(c, name);
            remove_entry(c, e);
            return;
        }
    }
}

void cio__pg_stmt_clear(cio_pg_conn *c)
{
    while (c->lru_head)
        remove_entry(c, c->lru_head);
    for (size_t i = 0; i < c->ndeallocate; i++)
        free(c->deallocate[i]);
    c->ndeallocate = 0;
}

void cio__pg_stmt_free(cio_pg_conn *c)
{
    if (c->stmt_tab)
        cio__pg_stmt_clear(c);
    free(c->stmt_tab);
    free(c->deallocate);
    c->stmt_tab = NULL;
    c->deallocate = NULL;
}
