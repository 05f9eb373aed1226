/* aiofiles_report — writing a report, then reading it back, without
 * blocking the loop.
 *
 *     async def write_report(path: str, content: str):
 *         async with aiofiles.open(path, "w") as f:
 *             await f.write(content)
 *
 *     async def read_report(path: str) -> str:
 *         async with aiofiles.open(path, "r") as f:
 *             return await f.read()
 *
 *     async def main():
 *         await write_report("/tmp/report.txt", "Async I/O complete.\n")
 *         content = await read_report("/tmp/report.txt")
 *         print(content)
 *
 * cio_open / cio_pwrite / cio_pread / cio_close are the file calls; on
 * io_uring they are native kernel operations, on epoll they run on a small
 * worker pool (what aiofiles does with threads). cio_read_file reads a whole
 * file into a malloc'd buffer, like f.read(). Then three sections of a
 * bigger report are written at once by three tasks, each at its own offset
 * of one file, and read back whole and in part. The files go to a fresh
 * directory under /tmp that is removed at the end. */
#include <fcntl.h>
#include <unistd.h>

#include "example.h"

/* async with aiofiles.open(path, "w") as f: await f.write(content) */
static int write_report(const char *path, const char *content)
{
    int fd = cio_open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fd;
    size_t len = strlen(content), done = 0;
    int err = 0;
    while (done < len && !err) { /* a write may be short: go on from there */
        ssize_t n = cio_pwrite(fd, content + done, len - done, (off_t)done);
        if (n < 0)
            err = (int)n;
        else
            done += (size_t)n;
    }
    cio_close(fd);
    return err;
}

/* async with aiofiles.open(path, "r") as f: return await f.read() */
static int read_report(const char *path, char **content, size_t *len)
{
    return cio_read_file(path, content, len, 1 << 20);
}

#define SECTION 64 /* bytes per section of the combined report */

typedef struct section_job {
    int fd;
    int index;
    const char *title;
} section_job;

/* Writes one fixed-size section at its own offset: the tasks never overlap. */
static int write_section(void *arg)
{
    section_job *job = arg;
    char text[SECTION + 1];
    snprintf(text, sizeof(text), "%-*.*s", SECTION - 1, SECTION - 1, job->title);
    text[SECTION - 1] = '\n';
    off_t at = (off_t)job->index * SECTION;
    ssize_t n = cio_pwrite(job->fd, text, SECTION, at);
    if (n != SECTION)
        return n < 0 ? (int)n : cio_fail(-EIO, "short write of section %d", job->index);
    return 0;
}

static int story(void *arg)
{
    (void)arg;
    char dir[] = "/tmp/cio-report-XXXXXX";
    if (!mkdtemp(dir))
        return -errno;
    char path[64], combined[64];
    snprintf(path, sizeof(path), "%s/report.txt", dir);
    snprintf(combined, sizeof(combined), "%s/combined.txt", dir);
    printf("files on the %s backend\n", cio_backend_name());

    int err = write_report(path, "Async I/O complete.\n");
    char *content = NULL;
    size_t len = 0;
    if (!err)
        err = read_report(path, &content, &len);
    if (!err) {
        printf("%s", content);
        printf("(read %zu bytes back)\n", len);
        free(content);
    }

    printf("== three sections written at once ==\n");
    static const char *const titles[] = {"1. Summary: all systems nominal",
                                         "2. Details: 3 tasks, 1 file, no locks",
                                         "3. Outlook: more of the same"};
    int fd = err ? -1 : cio_open(combined, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 && !err)
        err = fd;
    if (!err) {
        section_job jobs[3];
        cio_task *t[3];
        size_t spawned = 0;
        for (int i = 2; i >= 0; i--) { /* last section first: offsets, not order, place them */
            jobs[i] = (section_job){fd, i, titles[i]};
            if ((t[spawned] = cio_spawn(write_section, &jobs[i])))
                spawned++;
        }
        err = spawned == 3 ? cio_gather(t, 3, 0) : -ENOMEM;
        for (size_t i = 0; i < spawned; i++)
            cio_join(t[i]);
    }
    if (!err)
        err = cio_fsync(fd);
    if (!err)
        err = read_report(combined, &content, &len);
    if (!err) {
        for (char *line = strtok(content, "\n"); line; line = strtok(NULL, "\n")) {
            size_t end = strlen(line);
            while (end && line[end - 1] == ' ')
                line[--end] = 0; /* the padding of the fixed-size sections */
            printf("  %s\n", line);
        }
        printf("(%zu bytes, %d sections)\n", len, (int)(len / SECTION));
        free(content);
        /* A part of it: the second section, read in place. */
        char second[SECTION + 1] = {0};
        ssize_t n = cio_pread(fd, second, SECTION, SECTION);
        if (n == SECTION) {
            second[SECTION - 1] = 0;
            for (size_t end = strlen(second); end && second[end - 1] == ' '; end--)
                second[end - 1] = 0;
            printf("pread of section 2 alone: \"%s\"\n", second);
        } else {
            err = n < 0 ? (int)n : -EIO;
        }
    }
    if (fd >= 0)
        cio_close(fd);
    struct stat st;
    if (!err && cio_stat(combined, &st) == 0)
        printf("stat: %lld bytes\n", (long long)st.st_size);
    unlink(path);
    unlink(combined);
    rmdir(dir);
    return err;
}

int main(int argc, char **argv)
{
    example_init(argc, argv);
    int err = cio_run(story, NULL);
    if (err)
        fprintf(stderr, "failed: %s\n", cio_strerror(err));
    return err ? 1 : 0;
}
