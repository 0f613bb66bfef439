/* cmd_health.c - `db-adapter health`: the container's HEALTHCHECK. Asks the running server's
   /healthz on the configured port (server.port from --set, DBA_SERVER_PORT, PGRST_SERVER_PORT,
   the file or the default), so moving the port keeps the container healthy; needs no curl. */
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <jansson.h>

#include "cli/cli.h"

/* The address to ask: a wildcard listen address means this host's loopback. */
static const char *
health_host(const char *listen)
{
    if (listen == NULL || listen[0] == '\0' || strcmp(listen, "0.0.0.0") == 0 ||
        strcmp(listen, "*") == 0)
        return "127.0.0.1";
    if (strcmp(listen, "::") == 0 || strcmp(listen, "[::]") == 0)
        return "::1";
    return listen;
}

/* 0 when GET path on host:port answers 200, else 1 with the reason in why. */
static int
health_probe(const char *host, const char *port, const char *path, int timeout_s, char *why,
             size_t why_len)
{
    struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV };
    struct addrinfo *ai = NULL;
    int rc = getaddrinfo(host, port, &hints, &ai);
    if (rc != 0) {
        snprintf(why, why_len, "cannot resolve %s: %s", host, gai_strerror(rc));
        return 1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a != NULL; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        struct timeval tv = { .tv_sec = timeout_s };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        snprintf(why, why_len, "cannot connect to %s port %s: %s", host, port, strerror(errno));
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0)
        return 1;
    char req[512];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.0\r\nHost: localhost\r\nUser-Agent: db-adapter-health\r\n"
                     "Connection: close\r\n\r\n",
                     path);
    if (n < 0 || (size_t)n >= sizeof(req) || write(fd, req, (size_t)n) != n) {
        snprintf(why, why_len, "cannot send the request: %s", strerror(errno));
        close(fd);
        return 1;
    }
    char buf[256];
    size_t got = 0;
    while (got < sizeof(buf) - 1) {
        ssize_t r = read(fd, buf + got, sizeof(buf) - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(buf, '\n', got) != NULL)
            break;
    }
    close(fd);
    buf[got] = '\0';
    char *eol = strpbrk(buf, "\r\n");
    if (eol != NULL)
        *eol = '\0';
    int status = 0;
    if (sscanf(buf, "HTTP/%*d.%*d %d", &status) != 1) {
        snprintf(why, why_len, "no HTTP answer from %s port %s", host, port);
        return 1;
    }
    if (status != 200) {
        snprintf(why, why_len, "%s answered %d", path, status);
        return 1;
    }
    return 0;
}

int
dba_cli_health(struct dba_cli *c)
{
    const struct dba_config_server *s = &c->cfg->server;
    const char *host = health_host(s->listen);
    const char *path = "/healthz";
    char port[16];
    int timeout_s = 5;

    snprintf(port, sizeof(port), "%d", s->port);
    for (int i = 0; i < c->argc; i += 2) { /* every option takes a value */
        const char *a = c->argv[i];
        const char *v = i + 1 < c->argc ? c->argv[i + 1] : NULL;
        char *end = NULL;
        if (strcmp(a, "--port") == 0 && v != NULL) {
            long p = strtol(v, &end, 10);
            if (*end != '\0' || p < 1 || p > 65535) {
                fprintf(stderr, "db-adapter health: bad port '%s'\n", v);
                return DBA_EXIT_USAGE;
            }
            snprintf(port, sizeof(port), "%ld", p);
        } else if (strcmp(a, "--host") == 0 && v != NULL) {
            host = v;
        } else if (strcmp(a, "--path") == 0 && v != NULL && v[0] == '/' &&
                   strpbrk(v, " \r\n") == NULL && strlen(v) < 256) {
            path = v;
        } else if (strcmp(a, "--timeout") == 0 && v != NULL) {
            long t = strtol(v, &end, 10);
            if (*end != '\0' || t < 1 || t > 3600) {
                fprintf(stderr, "db-adapter health: bad timeout '%s'\n", v);
                return DBA_EXIT_USAGE;
            }
            timeout_s = (int)t;
        } else {
            fprintf(stderr, "db-adapter health: unknown option '%s' (see db-adapter health --help)\n",
                    a);
            return DBA_EXIT_USAGE;
        }
    }
    if (strcmp(port, "0") == 0) {
        fprintf(stderr, "db-adapter health: server.port is 0 (any free port): give --port\n");
        return DBA_EXIT_USAGE;
    }
    char why[256] = "";
    int rc = health_probe(host, port, path, timeout_s, why, sizeof(why));
    if (rc != 0) {
        fprintf(stderr, "db-adapter health: unhealthy: %s\n", why);
        return DBA_EXIT_FAIL;
    }
    if (c->json) {
        json_t *o = json_pack("{s:b,s:s,s:i,s:s}", "ok", 1, "host", host, "port", atoi(port),
                              "path", path);
        dba_cli_print_json(o);
        json_decref(o);
    }
    return DBA_EXIT_OK;
}
