/* Starts a private nginx on a free loopback port for client tests: a real,
 * independent HTTP server. Skips the test (exit 77) when nginx is missing. */
#ifndef CIO_NGINX_FIXTURE_H
#define CIO_NGINX_FIXTURE_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "cio_test.h"

typedef struct nginx_fixture {
    char dir[64];
    int port;
    pid_t pid;
    char base[64]; /* http://127.0.0.1:PORT */
} nginx_fixture;

static int fixture_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0)
        abort();
    close(fd);
    return ntohs(a.sin_port);
}

static void fixture_write(const char *dir, const char *name, const char *text, size_t len)
{
    char path[256];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(text, 1, len, f) != len)
        abort();
    fclose(f);
}

/* The bytes of big.bin: byte i is (i * 7) & 0xff. */
#define FIXTURE_BIG_SIZE (4 * 1024 * 1024)

static void nginx_start(nginx_fixture *fx)
{
    const char *nginx = "/usr/sbin/nginx";
    if (access(nginx, X_OK) != 0)
        CIO_SKIP("nginx is not installed (apt-get install nginx-light)");
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/cio-nginx-XXXXXX");
    if (!mkdtemp(fx->dir))
        abort();
    fx->port = fixture_free_port();
    snprintf(fx->base, sizeof(fx->base), "http://127.0.0.1:%d", fx->port);
    fixture_write(fx->dir, "hello.txt", "Hello from nginx\n", 17);
    const char *json = "{\"id\": 1, \"title\": \"first post\", \"tags\": [\"a\", \"b\"]}";
    fixture_write(fx->dir, "post.json", json, strlen(json));
    fixture_write(fx->dir, "broken.json", "{not json", 9);
    char *big = malloc(FIXTURE_BIG_SIZE);
    for (size_t i = 0; i < FIXTURE_BIG_SIZE; i++)
        big[i] = (char)((i * 7) & 0xff);
    fixture_write(fx->dir, "big.bin", big, FIXTURE_BIG_SIZE);
    free(big);
    char *text = malloc(8192);
    size_t n = 0;
    for (int i = 0; i < 200; i++)
        n += (size_t)snprintf(text + n, 8192 - n, "line %03d of a compressible text\n", i);
    fixture_write(fx->dir, "text.txt", text, n);
    free(text);
    char conf[4096];
    int len = snprintf(conf, sizeof(conf),
                       "daemon off; master_process off; worker_processes 1; pid %s/nginx.pid;\n"
                       "error_log %s/error.log;\n"
                       "events { worker_connections 1024; }\n"
                       "http {\n"
                       "  access_log off;\n"
                       "  client_body_temp_path %s; proxy_temp_path %s; fastcgi_temp_path %s;\n"
                       "  uwsgi_temp_path %s; scgi_temp_path %s;\n"
                       "  default_type text/plain; keepalive_requests 100000;\n"
                       "  gzip on; gzip_types text/plain application/json; gzip_min_length 0;\n"
                       "  server {\n"
                       "    listen 127.0.0.1:%d; root %s;\n"
                       "    location = /redirect { return 302 /hello.txt; }\n"
                       "    location = /loop { return 302 /loop; }\n"
                       "    location = /args { return 200 \"$args\"; }\n"
                       "    location = /teapot { return 418 \"short and stout\"; }\n"
                       "    location = /slow { alias %s/big.bin; limit_rate 64k; }\n"
                       "  }\n"
                       "}\n",
                       fx->dir, fx->dir, fx->dir, fx->dir, fx->dir, fx->dir, fx->dir, fx->port,
                       fx->dir, fx->dir);
    fixture_write(fx->dir, "nginx.conf", conf, (size_t)len);
    char confpath[128];
    snprintf(confpath, sizeof(confpath), "%s/nginx.conf", fx->dir);
    fx->pid = fork();
    if (fx->pid == 0) {
        execl(nginx, nginx, "-q", "-p", fx->dir, "-c", confpath, (char *)NULL);
        _exit(127);
    }
    /* Wait until it accepts connections (up to 5 s). */
    for (int i = 0; i < 500; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)fx->port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int ok = connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
        close(fd);
        if (ok)
            return;
        usleep(10000);
    }
    CIO_FAIL_AT("nginx did not start (see %s/error.log)", fx->dir);
}

static void nginx_stop(nginx_fixture *fx)
{
    kill(fx->pid, SIGTERM);
    waitpid(fx->pid, NULL, 0);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", fx->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", fx->dir);
}

#endif
