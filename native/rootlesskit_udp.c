/* The builtin port driver's UDP data path: one thread relays the datagrams of every published UDP
 * port, so no datagram enters Python and the GIL is never taken per datagram (Python per datagram
 * gave 0.82x Go's round trips, BENCHMARKS.md).
 *
 * As before in Python (and as upstream's UDP proxy): each client address of a port gets its own
 * socket connected to the target inside the namespace, so replies find their way back and the
 * target sees one peer per client; a socket unused for RK_UDP_IDLE_SECONDS is closed. Datagrams
 * are taken and given in batches (recvmmsg/sendmmsg): a burst costs a few system calls, not two
 * per datagram. Errors are UDP's: an ICMP error queued on a socket and a full buffer drop the
 * datagram, nothing else.
 *
 * Python hands over the listening socket and the target's address, and asks for groups (one per
 * published port) to be closed, through a pipe, so only this thread ever touches the sockets; a
 * close returns once it is done. The
 * thread must be started from the thread that lives in the child's network namespace: the sockets
 * it creates toward the target are created in the namespace of the thread that creates them. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "rootlesskit_native.h"
#include "rootlesskit_worker.h"

#define RK_UDP_IDLE_SECONDS 90   /* as upstream's UDP proxy */
#define BATCH 32
#define DATAGRAM_MAX 65536       /* a UDP payload is at most 65507 (IPv4) or 65527 (IPv6) bytes */
#define BUCKETS 1024
/* Receive buffer asked for on every socket of the relay (the kernel caps it at net.core.rmem_max):
 * at the default (rmem_default, 208 KiB) a bulk sender overflowed the published port's socket
 * whenever this thread waited for a CPU, and those drops were the relay's, not the target's
 * (BENCHMARKS.md, "UDP through the builtin driver in C"). pasta asks for the most it may, too. */
#define RCVBUF_WANTED (4 << 20)
/* UDP_SEGMENT's limits: a run is one UDP packet (its payload at most 65507 bytes over IPv4) of at
 * most UDP_MAX_SEGMENTS datagrams (64 in older kernels, 128 in newer ones). */
#ifndef UDP_SEGMENT
#define UDP_SEGMENT 103
#endif
#define SEGMENTS_MAX 64
#define SEGMENTED_BYTES_MAX 65000

enum { UDP_ADD = 1, UDP_CLOSE_GROUP = 2 };
struct udp_command {
    int op, fd, group;
    socklen_t target_len;
    struct sockaddr_storage target;
};

enum { KIND_PORT, KIND_FLOW };
struct udp_port {
    int kind, fd, group;
    socklen_t target_len;
    struct sockaddr_storage target;
    struct udp_port *next;
};
struct udp_flow {
    int kind, fd;
    struct udp_port *port;
    socklen_t client_len;
    struct sockaddr_storage client;
    time_t last_used;
    struct udp_flow *next_in_bucket;
};

static struct rk_worker relay = RK_WORKER_INIT;
/* A close is waited for: the port's number is free again (and nothing answers on it) when the API
 * says it is removed. */
static pthread_mutex_t closed_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t closed_cond = PTHREAD_COND_INITIALIZER;
static unsigned long close_requests, closes_done;
static struct udp_port *ports;
static struct udp_flow *buckets[BUCKETS];
static struct mmsghdr msgs[BATCH];
static struct iovec iovs[BATCH];
static struct sockaddr_storage names[BATCH];
static char *buffers;            /* BATCH datagrams, allocated with the thread */
/* Datagrams this long or longer are not segmented: a segmented send of that size failed (a kernel
 * without UDP GSO, or a route with a smaller MTU), and one by one works everywhere. */
static size_t unsegmentable_size = DATAGRAM_MAX;

/* Datagrams relayed lately toward the targets and toward the clients, both halved as they grow:
 * whether traffic goes both ways, for wait_for_events. */
static unsigned long to_targets, to_clients;

static void count_relayed(unsigned long *way, int n)
{
    *way += (unsigned long)n;
    if (to_targets + to_clients > 256) {
        to_targets /= 2;
        to_clients /= 2;
    }
}

/* The smaller count at least a quarter of the larger: requests and their replies. */
static int traffic_goes_both_ways(void)
{
    unsigned long fewer = to_targets < to_clients ? to_targets : to_clients;
    return fewer * 4 >= to_targets + to_clients - fewer;
}

static time_t now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

static unsigned bucket_of(struct udp_port *port, const struct sockaddr_storage *addr, socklen_t len)
{
    uint32_t h = 2166136261u ^ (uint32_t)(uintptr_t)port;   /* FNV-1a over the address bytes */
    const unsigned char *p = (const unsigned char *)addr;
    for (socklen_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 16777619u;
    return h % BUCKETS;
}

static void flow_close(struct udp_flow *f, unsigned bucket)
{
    struct udp_flow **link = &buckets[bucket];
    while (*link != f)
        link = &(*link)->next_in_bucket;
    *link = f->next_in_bucket;
    close(f->fd);                /* also removes it from the epoll set */
    free(f);
}

static void grow_receive_buffer(int fd)
{
    int size = RCVBUF_WANTED;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);   /* a smaller buffer still works */
}

static struct udp_flow *flow_find(struct udp_port *port, const struct sockaddr_storage *client, socklen_t len)
{
    unsigned b = bucket_of(port, client, len);
    for (struct udp_flow *f = buckets[b]; f; f = f->next_in_bucket)
        if (f->port == port && f->client_len == len && memcmp(&f->client, client, len) == 0)
            return f;
    struct udp_flow *f = calloc(1, sizeof *f);
    if (!f)
        return NULL;
    f->fd = socket(port->target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (f->fd < 0 || connect(f->fd, (struct sockaddr *)&port->target, port->target_len) < 0) {
        if (f->fd >= 0)
            close(f->fd);
        free(f);
        return NULL;             /* out of descriptors, no route: this datagram is dropped */
    }
    grow_receive_buffer(f->fd);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = f };
    if (epoll_ctl(relay.epoll, EPOLL_CTL_ADD, f->fd, &ev) < 0) {
        close(f->fd);
        free(f);
        return NULL;
    }
    f->kind = KIND_FLOW;
    f->port = port;
    f->client_len = len;
    memcpy(&f->client, client, len);
    f->next_in_bucket = buckets[b];
    buckets[b] = f;
    return f;
}

static void prepare(int n, int with_names)
{
    for (int i = 0; i < n; i++) {
        iovs[i].iov_base = buffers + (size_t)i * DATAGRAM_MAX;
        iovs[i].iov_len = DATAGRAM_MAX;
        memset(&msgs[i].msg_hdr, 0, sizeof msgs[i].msg_hdr);
        msgs[i].msg_hdr.msg_iov = &iovs[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        if (with_names) {
            msgs[i].msg_hdr.msg_name = &names[i];
            msgs[i].msg_hdr.msg_namelen = sizeof names[i];
        }
    }
}

/* One past the last of msgs[from, to) that can go as one segmented send: every datagram of the
 * run as long as the first but the last (which may be shorter, not empty: the kernel cuts segments
 * out of the bytes, so an empty one would vanish), within UDP's size and count limits. */
static int segment_run_end(int from, int to)
{
    size_t size = iovs[from].iov_len, total = size;
    int end = from + 1;
    if (size == 0)
        return end;              /* UDP_SEGMENT 0 means unsegmented: empty datagrams go one by one */
    while (end < to && end - from < SEGMENTS_MAX && iovs[end].iov_len <= size && iovs[end].iov_len > 0
           && total + iovs[end].iov_len <= SEGMENTED_BYTES_MAX) {
        total += iovs[end].iov_len;
        if (iovs[end++].iov_len < size)
            break;
    }
    return end;
}

/* msgs[from, end) in one sendmsg with UDP_SEGMENT: the kernel carries them through the stack as
 * one packet and cuts them into their datagrams at the last moment (at the receiving socket, on
 * loopback), so the per-datagram cost of routing and delivery is paid once per run. Returns 0 when
 * sent or dropped as UDP drops, -1 when this run cannot be segmented (then it goes one by one). */
static int send_segmented(int fd, int from, int end)
{
    union { char buf[CMSG_SPACE(sizeof(uint16_t))]; struct cmsghdr align; } control;
    struct msghdr msg = {
        .msg_name = msgs[from].msg_hdr.msg_name, .msg_namelen = msgs[from].msg_hdr.msg_namelen,
        .msg_iov = &iovs[from], .msg_iovlen = (size_t)(end - from),
        .msg_control = control.buf, .msg_controllen = sizeof control.buf,
    };
    struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
    cm->cmsg_level = SOL_UDP;
    cm->cmsg_type = UDP_SEGMENT;
    cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
    uint16_t size = (uint16_t)iovs[from].iov_len;
    memcpy(CMSG_DATA(cm), &size, sizeof size);
    int reported = 0;
    while (sendmsg(fd, &msg, MSG_DONTWAIT) < 0) {
        if (errno == EINTR || (errno == ECONNREFUSED && !reported++))
            continue;            /* an earlier datagram's ICMP error, now reported and cleared */
        if (errno == EAGAIN || errno == ENOBUFS || errno == ECONNREFUSED)
            return 0;            /* a full buffer: dropped, as UDP does */
        if (size < unsegmentable_size)
            unsegmentable_size = size;   /* no UDP GSO, or a route whose MTU is below this size */
        return -1;
    }
    return 0;
}

/* Send msgs[from, to) (their iov_len already the datagram sizes, all to one peer) on fd; what does
 * not go is dropped. Runs of equal sizes go segmented: a bulk sender's datagrams cost the relay's
 * CPU (and so the target's, on a small machine) per run instead of per datagram. */
static void send_batch(int fd, int from, int to)
{
    while (from < to) {
        int end = segment_run_end(from, to);
        if (end - from > 1 && iovs[from].iov_len < unsegmentable_size && send_segmented(fd, from, end) == 0) {
            from = end;
            continue;
        }
        while (end < to && segment_run_end(end, to) - end == 1)
            end++;               /* datagrams of varying sizes: together, one by one in one call */
        int n = sendmmsg(fd, &msgs[from], (unsigned)(end - from), MSG_DONTWAIT);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            from++;              /* ECONNREFUSED from an earlier datagram, a full buffer: drop one, go on */
        } else {
            from += n;
        }
    }
}

/* Datagrams from clients on a published port: each to its client's flow, runs of one flow in one call. */
static void port_readable(struct udp_port *port)
{
    prepare(BATCH, 1);
    int n = recvmmsg(port->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;                  /* nothing, or an ICMP error queued on the listener: nothing to do */
    count_relayed(&to_targets, n);
    time_t now = now_seconds();
    struct udp_flow *run = NULL;
    int run_start = 0;
    for (int i = 0; i < n; i++) {
        struct udp_flow *f = flow_find(port, &names[i], msgs[i].msg_hdr.msg_namelen);
        iovs[i].iov_len = msgs[i].msg_len;
        msgs[i].msg_hdr.msg_name = NULL;   /* flows are connected */
        msgs[i].msg_hdr.msg_namelen = 0;
        if (f != run) {
            if (run)
                send_batch(run->fd, run_start, i);
            run = f;
            run_start = i;
        }
        if (!f)
            run_start = i + 1;
        else
            f->last_used = now;
    }
    if (run)
        send_batch(run->fd, run_start, n);
}

/* Replies from the target: back to the flow's client through the published port's socket. */
static void flow_readable(struct udp_flow *f)
{
    prepare(BATCH, 0);
    int n = recvmmsg(f->fd, msgs, BATCH, MSG_DONTWAIT, NULL);
    if (n <= 0)
        return;                  /* ECONNREFUSED: nobody listens (yet) inside; ignored as upstream */
    count_relayed(&to_clients, n);
    f->last_used = now_seconds();
    for (int i = 0; i < n; i++) {
        iovs[i].iov_len = msgs[i].msg_len;
        msgs[i].msg_hdr.msg_name = &f->client;
        msgs[i].msg_hdr.msg_namelen = f->client_len;
    }
    send_batch(f->port->fd, 0, n);
}

static void close_group(int group)
{
    for (unsigned b = 0; b < BUCKETS; b++) {
        struct udp_flow *f = buckets[b], *next;
        for (; f; f = next) {
            next = f->next_in_bucket;
            if (f->port->group == group)
                flow_close(f, b);
        }
    }
    for (struct udp_port **link = &ports; *link;) {
        struct udp_port *p = *link;
        if (p->group == group) {
            *link = p->next;
            close(p->fd);
            free(p);
        } else {
            link = &p->next;
        }
    }
}

static void sweep(time_t now)
{
    for (unsigned b = 0; b < BUCKETS; b++) {
        struct udp_flow *f = buckets[b], *next;
        for (; f; f = next) {
            next = f->next_in_bucket;
            if (now - f->last_used > RK_UDP_IDLE_SECONDS)
                flow_close(f, b);
        }
    }
}

static void read_commands(void)
{
    struct udp_command cmd;
    while (read(relay.cmd_r, &cmd, sizeof cmd) == (ssize_t)sizeof cmd) {
        if (cmd.op == UDP_CLOSE_GROUP) {
            close_group(cmd.group);
            pthread_mutex_lock(&closed_lock);
            closes_done++;
            pthread_cond_broadcast(&closed_cond);
            pthread_mutex_unlock(&closed_lock);
            continue;
        }
        struct udp_port *p = calloc(1, sizeof *p);
        struct epoll_event ev = { .events = EPOLLIN, .data.ptr = p };
        fcntl(cmd.fd, F_SETFL, fcntl(cmd.fd, F_GETFL) | O_NONBLOCK);
        grow_receive_buffer(cmd.fd);
        if (!p || epoll_ctl(relay.epoll, EPOLL_CTL_ADD, cmd.fd, &ev) < 0) {
            close(cmd.fd);
            free(p);
            continue;
        }
        p->kind = KIND_PORT;
        p->fd = cmd.fd;
        p->group = cmd.group;
        p->target_len = cmd.target_len;
        p->target = cmd.target;
        p->next = ports;
        ports = p;
    }
}

static long nanoseconds_since(const struct timespec *start)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - start->tv_sec) * 1000000000L + (now.tv_nsec - start->tv_nsec);
}

/* Why the relay polls a little before it sleeps: a UDP round trip through it is four wake-ups (the
 * relay, the target, the relay, the client), and waking a CPU that has gone idle costs more than
 * the relay's whole work, most of all in a virtual machine, where an idle CPU halts and has to be
 * woken by the hypervisor. Go's scheduler spins before it sleeps, for the same reason. Polling
 * while the reply is on its way keeps this thread's CPU awake: on a quiet 2-CPU VM round trips went
 * from 1.09x Go's to 1.45x (BENCHMARKS.md, "UDP round trips: polling before sleeping").
 *
 * How long is learned as guest halt-polling learns it: a wait that ended within SPIN_MAX_NS makes
 * the window grow (from SPIN_START_NS, doubling up to SPIN_MAX_NS); a longer one halves it, down to
 * nothing. So a relay whose datagrams come rarely, or a machine too busy to answer quickly, does not
 * poll at all: a fixed window lost a quarter of the round trips under load, since it took the CPU the
 * client or the target needed next.
 *
 * And it polls only while datagrams go both ways, as requests and their replies do. A one-way bulk
 * sender keeps the window open too (its datagrams come every few µs), but then each poll catches
 * one or two datagrams, which go one by one instead of in a segmented run, and the polling takes the
 * CPU the receiver needs: iperf3 -u at 2 Gbit/s received 1.26 Gbit/s through the polling relay and
 * 1.48 through one that never polls (BENCHMARKS.md, "Fourth session"). */
#define SPIN_START_NS 10000L
#define SPIN_MAX_NS 50000L
static long spin_ns;

static int wait_for_events(struct epoll_event *events, int max, int timeout_ms)
{
    struct timespec start;
    clock_gettime(CLOCK_MONOTONIC, &start);
    int n = epoll_wait(relay.epoll, events, max, 0);
    while (n == 0 && spin_ns > 0 && traffic_goes_both_ways() && nanoseconds_since(&start) < spin_ns)
        n = epoll_wait(relay.epoll, events, max, 0);
    if (n != 0)
        return n;
    n = epoll_wait(relay.epoll, events, max, timeout_ms);
    if (nanoseconds_since(&start) > SPIN_MAX_NS)
        spin_ns = spin_ns / 2 < SPIN_START_NS / 2 ? 0 : spin_ns / 2;
    else if (spin_ns < SPIN_MAX_NS)
        spin_ns = spin_ns ? spin_ns * 2 : SPIN_START_NS;
    return n;
}

static void *udp_main(void *unused)
{
    struct epoll_event events[64];
    time_t next_sweep = now_seconds() + RK_UDP_IDLE_SECONDS / 3;
    (void)unused;
    for (;;) {
        time_t now = now_seconds();
        if (now >= next_sweep) {
            sweep(now);
            next_sweep = now + RK_UDP_IDLE_SECONDS / 3;
        }
        int n = wait_for_events(events, 64, (int)(next_sweep - now) * 1000);
        for (int i = 0; i < n; i++) {
            int *kind = events[i].data.ptr;
            if (kind == NULL) {
                read_commands();
                break;           /* the events after it may name sockets a close just freed */
            }
            if (*kind == KIND_PORT)
                port_readable((struct udp_port *)kind);
            else
                flow_readable((struct udp_flow *)kind);
        }
    }
    return NULL;
}

int rk_udp_start(void)
{
    if (!buffers && !(buffers = malloc((size_t)BATCH * DATAGRAM_MAX)))
        return -ENOMEM;
    return rk_worker_start(&relay, udp_main);
}

int rk_udp_add(int fd, int group, const char *target_ip, int target_port)
{
    struct udp_command cmd = { .op = UDP_ADD, .fd = fd, .group = group };
    struct sockaddr_in *v4 = (struct sockaddr_in *)&cmd.target;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&cmd.target;
    if (inet_pton(AF_INET, target_ip, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)target_port);
        cmd.target_len = sizeof *v4;
    } else if (inet_pton(AF_INET6, target_ip, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)target_port);
        cmd.target_len = sizeof *v6;
    } else {
        return -EINVAL;
    }
    return rk_worker_send(&relay, &cmd, sizeof cmd);
}

int rk_udp_close_group(int group)
{
    struct udp_command cmd = { .op = UDP_CLOSE_GROUP, .group = group };
    pthread_mutex_lock(&closed_lock);  /* held while sending: requests are counted in pipe order */
    unsigned long mine = ++close_requests;
    int ret = rk_worker_send(&relay, &cmd, sizeof cmd);
    while (ret == 0 && closes_done < mine)
        pthread_cond_wait(&closed_cond, &closed_lock);
    pthread_mutex_unlock(&closed_lock);
    return ret;
}
