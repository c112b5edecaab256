/* The builtin port driver's data path: one thread moves the bytes of every forwarded TCP
 * connection with splice(2), so payload never enters Python (or user space at all) and the GIL is
 * never taken per packet.  Python hands over pairs of connected sockets and asks for groups (one
 * group per published port) to be closed; both requests travel through a pipe to the pump thread,
 * which alone owns the sockets, so no descriptor is ever closed under another thread's feet.
 *
 * Each direction of a connection borrows a pipe from a small pool only while bytes are in flight:
 * thousands of idle connections hold no pipes (the per-user pipe quota stays untouched). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "rootlesskit_native.h"
#include "rootlesskit_worker.h"

#define PIPE_BYTES (1 << 20)   /* asked for; the kernel may give less (fs.pipe-max-size, quota) */
#define POOL_MAX 32
#define ROUND_BUDGET 16        /* splices per direction before other connections get a turn */

enum { CMD_ADD = 1, CMD_CLOSE_GROUP = 2 };
struct command { int op, a, b, group; };

struct conn;
struct end { struct conn *conn; };
struct flow {                  /* one direction: fd[i] -> fd[1 - i] */
    int pipe_r, pipe_w;        /* -1 while nothing is in flight */
    size_t queued;
    int eof, shut;
};
struct conn {
    int fd[2], group, pending, closed;
    struct flow flow[2];
    struct end end[2];
    struct conn *prev, *next, *next_pending;
};

static struct rk_worker pump = RK_WORKER_INIT;
static struct conn *conns, *pending;
static int pool[POOL_MAX][2], pool_len;

static int pipe_get(struct flow *f)
{
    int p[2];
    if (pool_len > 0) {
        pool_len--;
        f->pipe_r = pool[pool_len][0];
        f->pipe_w = pool[pool_len][1];
        return 0;
    }
    if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
        return -1;
    (void)fcntl(p[1], F_SETPIPE_SZ, PIPE_BYTES);   /* best effort */
    f->pipe_r = p[0];
    f->pipe_w = p[1];
    return 0;
}

static void pipe_put(struct flow *f)
{
    if (f->pipe_r < 0)
        return;
    if (pool_len < POOL_MAX) {
        pool[pool_len][0] = f->pipe_r;
        pool[pool_len][1] = f->pipe_w;
        pool_len++;
    } else {
        close(f->pipe_r);
        close(f->pipe_w);
    }
    f->pipe_r = f->pipe_w = -1;
}

static void pipe_drop(struct flow *f)   /* a pipe still holding bytes cannot go back to the pool */
{
    if (f->pipe_r < 0)
        return;
    close(f->pipe_r);
    close(f->pipe_w);
    f->pipe_r = f->pipe_w = -1;
}

static void conn_close(struct conn *c)
{
    if (c->closed)
        return;
    c->closed = 1;
    for (int i = 0; i < 2; i++) {
        if (c->flow[i].queued)
            pipe_drop(&c->flow[i]);
        else
            pipe_put(&c->flow[i]);
        close(c->fd[i]);         /* also removes it from the epoll set */
    }
    if (c->prev) c->prev->next = c->next; else conns = c->next;
    if (c->next) c->next->prev = c->prev;
    if (!c->pending)
        free(c);                 /* else freed when the pending list is walked */
}

/* Move what can be moved now in direction i.  Returns 1 if it stopped only because of the
 * budget (more may be ready), 0 if it would block or is finished, -1 on a connection error. */
static int flow_run(struct conn *c, int i)
{
    struct flow *f = &c->flow[i];
    int src = c->fd[i], dst = c->fd[1 - i];
    for (int budget = ROUND_BUDGET; budget > 0; budget--) {
        ssize_t n;
        if (f->queued > 0) {
            n = splice(f->pipe_r, NULL, dst, NULL, f->queued, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
            if (n < 0)
                return errno == EAGAIN ? 0 : errno == EINTR ? 1 : -1;
            f->queued -= (size_t)n;
            if (f->queued == 0)
                pipe_put(f);
            continue;
        }
        if (f->eof) {
            if (!f->shut) {
                shutdown(dst, SHUT_WR);   /* pass the half-close on */
                f->shut = 1;
            }
            return 0;
        }
        if (f->pipe_r < 0 && pipe_get(f) < 0)
            return -1;
        n = splice(src, NULL, f->pipe_w, NULL, PIPE_BYTES, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
        if (n == 0) {
            f->eof = 1;
            pipe_put(f);
        } else if (n < 0) {
            if (errno == EAGAIN) {
                pipe_put(f);
                return 0;
            }
            if (errno != EINTR)
                return -1;
        } else {
            f->queued = (size_t)n;
        }
    }
    return 1;
}

static void conn_run(struct conn *c)
{
    int more = 0;
    for (int i = 0; i < 2 && !c->closed; i++) {
        int r = flow_run(c, i);
        if (r < 0) {
            conn_close(c);
            return;
        }
        more |= r;
    }
    if (c->flow[0].shut && c->flow[1].shut) {
        conn_close(c);
        return;
    }
    if (more && !c->pending) {
        c->pending = 1;
        c->next_pending = pending;
        pending = c;
    }
}

static void conn_add(int a, int b, int group)
{
    struct conn *c = calloc(1, sizeof *c);
    if (!c) {
        close(a);
        close(b);
        return;
    }
    c->fd[0] = a;
    c->fd[1] = b;
    c->group = group;
    for (int i = 0; i < 2; i++) {
        struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = &c->end[i] };
        c->flow[i].pipe_r = c->flow[i].pipe_w = -1;
        c->end[i].conn = c;
        fcntl(c->fd[i], F_SETFL, fcntl(c->fd[i], F_GETFL) | O_NONBLOCK);
        epoll_ctl(pump.epoll, EPOLL_CTL_ADD, c->fd[i], &ev);
    }
    c->next = conns;
    if (conns) conns->prev = c;
    conns = c;
    conn_run(c);                  /* bytes may have arrived before registration */
}

static void close_group(int group)
{
    struct conn *c = conns, *next;
    for (; c; c = next) {
        next = c->next;
        if (c->group == group)
            conn_close(c);
    }
}

static void read_commands(void)
{
    struct command cmd;
    while (read(pump.cmd_r, &cmd, sizeof cmd) == (ssize_t)sizeof cmd) {
        if (cmd.op == CMD_ADD)
            conn_add(cmd.a, cmd.b, cmd.group);
        else if (cmd.op == CMD_CLOSE_GROUP)
            close_group(cmd.group);
    }
}

static void run_pending(void)
{
    struct conn *list = pending, *c;
    pending = NULL;
    while ((c = list)) {
        list = c->next_pending;
        c->pending = 0;
        if (c->closed)
            free(c);
        else
            conn_run(c);
    }
}

static void *pump_main(void *unused)
{
    struct epoll_event events[64];
    (void)unused;
    for (;;) {
        int n = epoll_wait(pump.epoll, events, 64, pending ? 0 : -1);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == NULL)
                read_commands();
            else {
                struct conn *c = ((struct end *)events[i].data.ptr)->conn;
                if (!c->closed)
                    conn_run(c);
            }
        }
        run_pending();
    }
    return NULL;
}

int rk_worker_start(struct rk_worker *w, void *(*body)(void *))
{
    int ret = 0, p[2];
    pthread_t thread;
    pthread_attr_t attr;
    sigset_t all, old;
    pthread_mutex_lock(&w->start_lock);
    if (w->epoll >= 0)
        goto out;
    if ((w->epoll = epoll_create1(EPOLL_CLOEXEC)) < 0 || pipe2(p, O_CLOEXEC) < 0) {
        ret = -errno;
        goto out;
    }
    w->cmd_r = p[0];
    w->cmd_w = p[1];
    fcntl(w->cmd_r, F_SETFL, O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(w->epoll, EPOLL_CTL_ADD, w->cmd_r, &ev);
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    ret = -pthread_create(&thread, &attr, body, NULL);
    pthread_attr_destroy(&attr);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
out:
    pthread_mutex_unlock(&w->start_lock);
    return ret;
}

int rk_worker_send(struct rk_worker *w, const void *cmd, size_t size)
{
    ssize_t n;
    do
        n = write(w->cmd_w, cmd, size);
    while (n < 0 && errno == EINTR);
    return n == (ssize_t)size ? 0 : -errno;
}

int rk_pump_start(void) { return rk_worker_start(&pump, pump_main); }

static int send_command(int op, int a, int b, int group)
{
    struct command cmd = { op, a, b, group };
    return rk_worker_send(&pump, &cmd, sizeof cmd);
}

int rk_pump_add(int a, int b, int group) { return send_command(CMD_ADD, a, b, group); }

int rk_pump_close_group(int group) { return send_command(CMD_CLOSE_GROUP, -1, -1, group); }
