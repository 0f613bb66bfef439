/* loop.c - the per-worker event loop: epoll over MHD's epoll fd, libpq sockets and a wake-up eventfd. */
#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "core/core.h"

#define LOOP_MAX_EVENTS 64

struct dba_loop {
    int epfd;                 /* epoll instance */
    struct dba_loop_io wake;  /* eventfd for cross-thread wake-ups */
    void (*wake_cb)(void *);  /* run on the loop thread after a wake-up */
    void *wake_arg;           /* its argument */
};

static void
loop_on_wake(void *arg, uint32_t events)
{
    struct dba_loop *l = arg;
    uint64_t v;

    DBA_UNUSED(events);
    while (read(l->wake.fd, &v, sizeof(v)) > 0)
        ;
    if (l->wake_cb != NULL)
        l->wake_cb(l->wake_arg);
}

struct dba_loop *
dba_loop_new(void)
{
    struct dba_loop *l = dba_xcalloc(1, sizeof(*l));

    l->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (l->epfd < 0)
        dba_fatal("epoll_create1 failed");
    l->wake.fd = -1;
    int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (efd < 0 || dba_loop_io_add(l, &l->wake, efd, EPOLLIN, loop_on_wake, l) != DBA_OK)
        dba_fatal("eventfd failed");
    return l;
}

void
dba_loop_free(struct dba_loop *l)
{
    if (l == NULL)
        return;
    int efd = l->wake.fd;
    dba_loop_io_del(l, &l->wake);
    close(efd);
    close(l->epfd);
    free(l);
}

int
dba_loop_io_add(struct dba_loop *l, struct dba_loop_io *io, int fd, uint32_t events,
                dba_loop_io_cb cb, void *arg)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };

    io->fd = fd;
    io->events = events;
    io->cb = cb;
    io->arg = arg;
    if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) != 0) {
        io->fd = -1;
        return DBA_EIO;
    }
    return DBA_OK;
}

int
dba_loop_io_mod(struct dba_loop *l, struct dba_loop_io *io, uint32_t events)
{
    struct epoll_event ev = { .events = events, .data.ptr = io };

    if (io->fd < 0)
        return DBA_EIO;
    if (io->events == events)
        return DBA_OK;
    if (epoll_ctl(l->epfd, EPOLL_CTL_MOD, io->fd, &ev) != 0)
        return DBA_EIO;
    io->events = events;
    return DBA_OK;
}

void
dba_loop_io_del(struct dba_loop *l, struct dba_loop_io *io)
{
    if (io->fd < 0)
        return;
    epoll_ctl(l->epfd, EPOLL_CTL_DEL, io->fd, NULL);
    io->fd = -1;
}

int
dba_loop_run_once(struct dba_loop *l, int timeout_ms)
{
    struct epoll_event evs[LOOP_MAX_EVENTS];
    int n = epoll_wait(l->epfd, evs, LOOP_MAX_EVENTS, timeout_ms);

    if (n < 0)
        return errno == EINTR ? 0 : -1;
    for (int i = 0; i < n; i++) {
        struct dba_loop_io *io = evs[i].data.ptr;
        if (io->fd >= 0)
            io->cb(io->arg, evs[i].events);
    }
    return n;
}

void
dba_loop_wake(struct dba_loop *l)
{
    uint64_t one = 1;

    if (write(l->wake.fd, &one, sizeof(one)) < 0) {
        /* The counter is saturated only if the loop is already due to wake up. */
    }
}

void
dba_loop_set_wake_cb(struct dba_loop *l, void (*cb)(void *arg), void *arg)
{
    l->wake_cb = cb;
    l->wake_arg = arg;
}
