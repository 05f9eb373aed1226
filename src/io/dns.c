/* Host-name resolution (cio_getaddrinfo) on a pool of threads of its own.
 *
 * getaddrinfo blocks, for seconds when a name server does not answer, so it
 * runs on up to DNS_THREADS threads that nothing else uses: a slow lookup
 * never holds up file I/O or to_thread. Threads start on demand and leave
 * after DNS_IDLE seconds without work.
 *
 * Unlike an executor job, a lookup can be given up: the caller may be
 * cancelled and must return at once, while its thread cannot be interrupted.
 * So the job lives on the heap with copies of host and port, and its state
 * (under the pool's lock) says who frees it:
 *   QUEUED   the canceller takes it off the queue and frees it;
 *   RUNNING  the canceller marks it abandoned; the thread frees it and its
 *            result when getaddrinfo returns, without touching the loop;
 *   POSTED   the result is on its way to the loop (call_soon_threadsafe):
 *            the caller keeps waiting the moment it takes to arrive, then
 *            frees it and returns the cancel reason.
 * The loop holds a reference (cio_loop_ref) while a job is out, so a loop
 * whose only task waits for a lookup is not taken for deadlocked. At process
 * exit the idle threads are joined; one stuck in a lookup is let go. */
#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../core/alloc.h"
#include "net_internal.h"

#define DNS_THREADS 4
#define DNS_IDLE 10 /* seconds */

enum { JOB_QUEUED, JOB_RUNNING, JOB_POSTED };

typedef struct dns_job {
    struct dns_job *prev, *next;
    int state;
    int abandoned;
    cio_loop *loop;
    cio_task *task;
    struct addrinfo hints;
    int has_hints;
    struct addrinfo *res;
    int gai, sys_errno;
    char *host, *port;
    char strs[];
} dns_job;

/* A worker thread. Threads are joinable so that process exit can join the
 * idle ones (a clean exit under LeakSanitizer and Valgrind); one still
 * inside getaddrinfo then is detached and left to finish on its own. */
typedef struct worker_slot {
    pthread_t th;
    int used, busy, done;
} worker_slot;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t work, gone;
    dns_job *head, *tail;
    unsigned nthreads, idle;
    int stopping;
    worker_slot slots[DNS_THREADS];
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .gone = PTHREAD_COND_INITIALIZER};

static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void fork_prepare(void)
{
    pthread_mutex_lock(&pool.lock);
}

static void fork_parent(void)
{
    pthread_mutex_unlock(&pool.lock);
}

/* The child has none of the parent's threads, and its loops none of the
 * parent's lookups: start afresh. */
static void fork_child(void)
{
    pthread_mutex_init(&pool.lock, NULL);
    pthread_cond_init(&pool.work, NULL);
    pthread_cond_init(&pool.gone, NULL);
    pool.head = pool.tail = NULL;
    pool.nthreads = pool.idle = 0;
    memset(pool.slots, 0, sizeof(pool.slots));
}

/* At exit: idle threads leave and are joined; busy ones are let go. */
static void pool_shutdown(void)
{
    pthread_t join[DNS_THREADS];
    size_t njoin = 0;
    pthread_mutex_lock(&pool.lock);
    pool.stopping = 1;
    pthread_cond_broadcast(&pool.work);
    for (;;) {
        int waiting = 0;
        for (size_t i = 0; i < DNS_THREADS; i++)
            waiting |= pool.slots[i].used && !pool.slots[i].busy && !pool.slots[i].done;
        if (!waiting)
            break;
        pthread_cond_wait(&pool.gone, &pool.lock);
    }
    for (size_t i = 0; i < DNS_THREADS; i++) {
        worker_slot *w = &pool.slots[i];
        if (!w->used)
            continue;
        if (w->done)
            join[njoin++] = w->th;
        else
            pthread_detach(w->th);
        w->used = 0;
    }
    pthread_mutex_unlock(&pool.lock);
    for (size_t i = 0; i < njoin; i++)
        pthread_join(join[i], NULL);
}

static void pool_init(void)
{
    pthread_atfork(fork_prepare, fork_parent, fork_child);
    atexit(pool_shutdown);
}

static void unqueue(dns_job *j)
{
    if (j->prev)
        j->prev->next = j->next;
    else
        pool.head = j->next;
    if (j->next)
        j->next->prev = j->prev;
    else
        pool.tail = j->prev;
    j->prev = j->next = NULL;
}

/* On the loop's thread: the lookup is back. */
static void job_done(void *arg)
{
    dns_job *j = arg;
    cio_loop_unref();
    cio__wake(j->task, 0);
}

static void *worker(void *arg)
{
    worker_slot *self = arg;
    pthread_mutex_lock(&pool.lock);
    for (;;) {
        while (!pool.head) {
            if (pool.stopping)
                goto leave;
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += DNS_IDLE;
            pool.idle++;
            int r = pthread_cond_timedwait(&pool.work, &pool.lock, &until);
            pool.idle--;
            if (r && !pool.head && !pool.stopping) {
                pthread_detach(pthread_self()); /* idle too long: nobody joins us */
                self->used = 0;
                goto leave;
            }
        }
        dns_job *j = pool.head;
        unqueue(j);
        j->state = JOB_RUNNING;
        self->busy = 1;
        pthread_mutex_unlock(&pool.lock);

        struct addrinfo *res = NULL;
        int gai = getaddrinfo(j->host, j->port, j->has_hints ? &j->hints : NULL, &res);
        int sys_errno = errno;

        pthread_mutex_lock(&pool.lock);
        self->busy = 0;
        if (j->abandoned) {
            if (res)
                freeaddrinfo(res);
            free(j);
            continue;
        }
        j->res = res;
        j->gai = gai;
        j->sys_errno = sys_errno;
        j->state = JOB_POSTED;
        cio_loop *loop = j->loop;
        pthread_mutex_unlock(&pool.lock);
        /* The waiting task keeps the loop open until job_done has run. */
        while (cio_call_soon_threadsafe(loop, job_done, j) == -ENOMEM)
            usleep(1000);
        pthread_mutex_lock(&pool.lock);
    }
leave:
    self->done = 1;
    pool.nthreads--;
    pthread_cond_broadcast(&pool.gone);
    pthread_mutex_unlock(&pool.lock);
    return NULL;
}

static int enqueue(dns_job *j)
{
    pthread_once(&init_once, pool_init);
    int err = 0;
    pthread_mutex_lock(&pool.lock);
    if (pool.stopping) {
        pthread_mutex_unlock(&pool.lock);
        return -ESHUTDOWN;
    }
    j->state = JOB_QUEUED;
    j->prev = pool.tail;
    if (pool.tail)
        pool.tail->next = j;
    else
        pool.head = j;
    pool.tail = j;
    if (pool.idle == 0 && pool.nthreads < DNS_THREADS) {
        for (size_t i = 0; i < DNS_THREADS; i++) {
            worker_slot *w = &pool.slots[i];
            if (w->used)
                continue;
            *w = (worker_slot){.used = 1};
            /* Signals are for the program's threads: the worker blocks all. */
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            if (pthread_create(&w->th, NULL, worker, w) == 0)
                pool.nthreads++;
            else
                w->used = 0;
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            break;
        }
    }
    if (pool.nthreads == 0) {
        unqueue(j);
        err = -EAGAIN;
    } else {
        pthread_cond_signal(&pool.work);
    }
    pthread_mutex_unlock(&pool.lock);
    return err;
}

/* Cancellation while the lookup is out (see the top of the file). */
static int job_unpark(cio_task *t, void *data)
{
    (void)t;
    dns_job *j = data;
    pthread_mutex_lock(&pool.lock);
    int state = j->state;
    if (state == JOB_QUEUED)
        unqueue(j);
    else if (state == JOB_RUNNING)
        j->abandoned = 1;
    pthread_mutex_unlock(&pool.lock);
    if (state == JOB_POSTED)
        return 0;
    if (state == JOB_QUEUED)
        free(j);
    cio_loop_unref();
    return 1;
}

/* ---- checks and errors ---- */

int cio__check_host(const char *host)
{
    size_t n = strlen(host);
    if (n == 0 || n > 253 + 1)
        return -EINVAL;
    for (const unsigned char *p = (const unsigned char *)host; *p; p++)
        if (*p <= ' ' || *p == 0x7f || strchr("/\\[]@?#\"'<>(){},;!$&*=^`|~", *p))
            return -EINVAL;
    return 0;
}

static int check_port(const char *port)
{
    if (!*port)
        return -EINVAL;
    size_t digits = strspn(port, "0123456789");
    if (digits != strlen(port))
        return 0; /* a service name: getaddrinfo judges it */
    return digits > 5 || atol(port) > 65535 ? -EINVAL : 0;
}

int cio__gai_error(int gai, int sys_errno, const char *host, const char *port)
{
    const char *h = host ? host : "(any)", *p = port ? port : "(none)";
    switch (gai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return cio_fail(-ENOENT, "unknown host %s (port %s): %s", h, p, gai_strerror(gai));
    case EAI_SERVICE:
        return cio_fail(-EINVAL, "bad port \"%s\" for host %s: %s", p, h, gai_strerror(gai));
    case EAI_AGAIN:
        return cio_fail(-EAGAIN, "resolving %s (port %s): %s", h, p, gai_strerror(gai));
    case EAI_MEMORY:
        return cio_fail(-ENOMEM, "resolving %s (port %s): out of memory", h, p);
    case EAI_SYSTEM:
        return cio_fail(sys_errno ? -sys_errno : -EIO, "resolving %s (port %s): %s", h, p,
                        cio_strerror(sys_errno ? sys_errno : EIO));
    case EAI_FAMILY:
    case EAI_SOCKTYPE:
    case EAI_BADFLAGS:
        return cio_fail(-EINVAL, "resolving %s (port %s): %s", h, p, gai_strerror(gai));
    default:
        return cio_fail(-EIO, "resolving %s (port %s): %s", h, p, gai_strerror(gai));
    }
}

/* ---- cio_getaddrinfo ---- */

int cio_getaddrinfo(const char *host, const char *port, const struct addrinfo *hints,
                    struct addrinfo **res)
{
    if (res)
        *res = NULL;
    if (!res || (!host && !port))
        return cio__invalid(__func__);
    if (host && cio__check_host(host))
        return cio_fail(-EINVAL, "bad host name \"%s\" (port %s)", host, port ? port : "(none)");
    if (port && check_port(port))
        return cio_fail(-EINVAL, "bad port \"%s\" for host %s", port, host ? host : "(any)");
    cio_task *self;
    int err = cio__checkpoint(&self);
    if (err)
        return err;

    struct addrinfo h = {0};
    if (hints) {
        h.ai_flags = hints->ai_flags;
        h.ai_family = hints->ai_family;
        h.ai_socktype = hints->ai_socktype;
        h.ai_protocol = hints->ai_protocol;
    }
    /* No name to look up: answer in line. */
    struct addrinfo numeric = h;
    numeric.ai_flags |= AI_NUMERICHOST;
    int gai = getaddrinfo(host, port, &numeric, res);
    if (gai == 0)
        return 0;
    if (!host || gai != EAI_NONAME || (h.ai_flags & AI_NUMERICHOST))
        return cio__gai_error(gai, errno, host, port);

    size_t hl = strlen(host) + 1, pl = port ? strlen(port) + 1 : 0;
    dns_job *j = cio__calloc(1, sizeof(*j) + hl + pl);
    if (!j)
        return cio_fail(-ENOMEM, "resolving %s: out of memory", host);
    j->host = j->strs;
    memcpy(j->host, host, hl);
    if (port) {
        j->port = j->strs + hl;
        memcpy(j->port, port, pl);
    }
    j->hints = h;
    j->has_hints = 1;
    j->loop = self->loop;
    j->task = self;
    cio_loop_ref();
    err = enqueue(j);
    if (err) {
        cio_loop_unref();
        free(j);
        return cio_fail(err, "resolving %s: no resolver thread", host);
    }
    err = cio__park(self, "getaddrinfo", j, job_unpark, j);
    if (err) /* cancelled: the job is freed or given up; not the host's fault */
        return cio__fail_bare(err);
    int reason = cio__cancel_reason(self);
    if (reason || j->gai) {
        if (j->res)
            freeaddrinfo(j->res);
        err = reason ? reason : cio__gai_error(j->gai, j->sys_errno, host, port);
    } else {
        *res = j->res;
    }
    free(j);
    return err;
}

/* ---- formatting ---- */

const char *cio__addr_str(const struct sockaddr *addr, char *buf, size_t len)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &a->sin_addr, ip, sizeof(ip));
        snprintf(buf, len, "%s:%u", ip, ntohs(a->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof(ip));
        snprintf(buf, len, "[%s]:%u", ip, ntohs(a->sin6_port));
    } else {
        snprintf(buf, len, "(family %d)", addr->sa_family);
    }
    return buf;
}
