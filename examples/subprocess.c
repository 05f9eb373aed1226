/* subprocess — running programs from tasks (asyncio.create_subprocess_exec).
 *
 *     proc = await asyncio.create_subprocess_exec(
 *         "sh", "-c", "echo hello; echo warning >&2",
 *         stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
 *     stdout, stderr = await proc.communicate()
 *     print(f"exited with {proc.returncode}: {stdout!r} {stderr!r}")
 *
 *     # several at once
 *     await asyncio.gather(*(run(f"sleep 1; echo job {i}") for i in range(3)))
 *
 *     # input in, output out, under a timeout
 *     out, _ = await asyncio.wait_for(proc.communicate(b"hello"), timeout=5)
 *
 * cio_process_spawn starts the program with each standard descriptor a pipe,
 * inherited, or /dev/null; cio_process_communicate feeds stdin, collects
 * stdout and stderr and waits for the exit, all under one timeout — and on
 * timeout kills and reaps the child instead of leaving it running, which
 * wait_for would do. Every child is reaped: no zombies, no leaked descriptors.
 * A child's output can also be read as it comes: cio_process_stream turns a
 * pipe into a stream with line reads. */
#include <signal.h>

#include "example.h"

/* Runs argv with stdout and stderr captured; prints what came out. */
static int run(const char *const *argv, const char *input, double timeout)
{
    cio_process_opts o = {.stdin_mode = input ? CIO_STDIO_PIPE : CIO_STDIO_DEVNULL,
                          .stdout_mode = CIO_STDIO_PIPE,
                          .stderr_mode = CIO_STDIO_PIPE};
    cio_process *p;
    int err = cio_process_spawn(&p, argv, &o);
    if (err)
        return err;
    cio_process_output out;
    int code = cio_process_communicate(p, input, input ? strlen(input) : 0, &out, timeout);
    if (code >= 0)
        printf("[%s exited with %d] stdout: %s", argv[0], code, out.out);
    if (out.err_len)
        printf("  stderr: %s", out.err);
    cio_process_output_free(&out);
    cio_process_close(p);
    return code < 0 ? code : 0;
}

typedef struct job {
    int i;
    char script[96];
    double started, ended; /* when the command was started and seen to end */
} job;

static int sleepy_job(void *arg)
{
    job *j = arg;
    snprintf(j->script, sizeof(j->script), "sleep %.3f; echo job %d done", S(1), j->i);
    const char *argv[] = {"sh", "-c", j->script, NULL};
    j->started = elapsed();
    int err = run(argv, NULL, CIO_FOREVER);
    j->ended = elapsed();
    return err;
}

/* Reads a child's stdout line by line as the lines arrive, through a stream
 * (asyncio's `async for line in proc.stdout`). */
static int stream_lines(void)
{
    char script[128];
    snprintf(script, sizeof(script), "for i in 1 2 3; do echo line $i; sleep %.3f; done", S(0.5));
    const char *argv[] = {"sh", "-c", script, NULL};
    cio_process_opts o = {.stdout_mode = CIO_STDIO_PIPE};
    cio_process *p;
    int err = cio_process_spawn(&p, argv, &o);
    if (err)
        return err;
    cio_stream *out;
    err = cio_process_stream(p, 1, &out, NULL);
    double t0 = cio_now();
    char line[256];
    ssize_t n = 0;
    while (!err && (n = cio_stream_read_line(out, line, sizeof(line) - 1)) > 0) {
        line[n - (line[n - 1] == '\n')] = 0;
        printf("  got \"%s\" at %.3f s\n", line, cio_now() - t0);
    }
    if (!err && n < 0)
        err = (int)n;
    cio_stream_close(out);
    int code = cio_process_wait(p);
    cio_process_close(p);
    printf("  the child exited with %d\n", code);
    return err < 0 ? err : code < 0 ? code : 0;
}

static int story(void *arg)
{
    (void)arg;
    printf("== run a command, capture stdout and stderr ==\n");
    const char *hello[] = {"sh", "-c", "echo hello from the child; echo warning >&2; exit 3", NULL};
    int err = run(hello, NULL, CIO_FOREVER);
    if (err)
        return err;

    printf("== three 1 s commands at once ==\n");
    job jobs[3];
    cio_task *t[3];
    double t0 = cio_now();
    for (int i = 0; i < 3; i++) {
        jobs[i].i = i + 1;
        if (!(t[i] = cio_spawn(sleepy_job, &jobs[i])))
            return -ENOMEM;
    }
    err = cio_gather(t, 3, 0);
    for (int i = 0; i < 3; i++)
        cio_join(t[i]);
    if (err)
        return err;
    printf("all three took %.3f s (side by side, not 3 s)\n", cio_now() - t0);
    double last_start = jobs[0].started, first_end = jobs[0].ended;
    for (int i = 1; i < 3; i++) {
        last_start = jobs[i].started > last_start ? jobs[i].started : last_start;
        first_end = jobs[i].ended < first_end ? jobs[i].ended : first_end;
    }
    printf("the last one started at %.3f s, before the first one ended at %.3f s\n", last_start,
           first_end);

    printf("== input in, output out (communicate) ==\n");
    const char *upper[] = {"tr", "a-z", "A-Z", NULL};
    err = run(upper, "hello, subprocess\n", 5);
    if (err)
        return err;

    printf("== reading output as it comes ==\n");
    err = stream_lines();
    if (err)
        return err;

    printf("== a timeout kills what takes too long ==\n");
    const char *slow[] = {"sleep", "10", NULL};
    cio_process *p;
    err = cio_process_spawn(&p, slow, NULL);
    if (err)
        return err;
    cio_process_output out;
    t0 = cio_now();
    int code = cio_process_communicate(p, NULL, 0, &out, S(0.5));
    printf("communicate returned %s after %.3f s; the child was killed by signal %d "
           "and reaped (status %d)\n",
           errname(code), cio_now() - t0, cio_process_term_signal(p), cio_process_returncode(p));
    cio_process_output_free(&out);
    cio_process_close(p);

    printf("== a program that does not exist ==\n");
    const char *missing[] = {"no-such-program-here", NULL};
    err = cio_process_spawn(&p, missing, NULL);
    printf("spawn returned %s: %s\n", errname(err), cio_task_message(cio_current()));
    return 0;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
