/* bypass4netns: containers' outbound TCP connections made on host sockets, at host speed.
 *
 * Every container of the daemon runs under a seccomp filter whose `connect` rule is
 * SCMP_ACT_NOTIFY (docker/bypass4netns.py writes that profile); runc hands each container's
 * notification descriptor to the listening socket this thread serves. For each connect(2):
 *
 *   - a destination the container reaches through its own gateway AND the namespace reaches
 *     through its default route (the tap device's gateway) is "outside": the thread makes a TCP
 *     socket in the host's network namespace (this process's), copies the options that differ
 *     from a fresh socket, connects it to the address it read, and only once that connection is
 *     established swaps it in for the container's descriptor (SECCOMP_IOCTL_NOTIF_ADDFD with
 *     SETFD) and answers 0. Data then moves on host sockets.
 *   - anything else (loopback, the namespace's own networks and addresses, other containers,
 *     UDP, a socket already bound, an option that cannot be copied) continues untouched: the
 *     normal stack.
 *
 * Why the connection is made before the swap, and never by the kernel after it: the container
 * could change its sockaddr between our check and a continued syscall (seccomp's TOCTOU), and a
 * host socket left unconnected could later be pointed anywhere (connect, or sendto with
 * MSG_FASTOPEN) -- the host's 127.0.0.1 included. So only established host sockets ever enter a
 * container; a connect(2) on one (including AF_UNSPEC, which would disconnect it) is answered
 * EISCONN without touching it. A connect that fails on the host is answered by the normal stack.
 *
 * A connect waits for the host's handshake without blocking this thread: it is parked (the
 * container's thread stays in the syscall) and finished when the socket becomes writable. A
 * non-blocking socket waits at most NONBLOCK_WAIT_MS, then goes to the normal stack; a blocking
 * one as long as the kernel's SYN retries (SO_SNDTIMEO is not honoured; README).
 *
 * Runs as a thread of the rootlesskit parent, the process that sits in the host's network
 * namespace and owns the user namespace (so it may pidfd_getfd() from any container process). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/seccomp.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "rootlesskit_native.h"
#include "rootlesskit_worker.h"

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif
#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif
#define X32_BIT 0x40000000
#define I386_SOCKETCALL 102
#define I386_CONNECT 362
#define SOCKETCALL_CONNECT 3

#define NONBLOCK_WAIT_MS 1000
#define MAX_PENDING 4096
#define TAG_LISTENER 1ULL
#define TAG_NOTIFY 2ULL
#define TAG_PENDING 3ULL

static struct rk_worker worker = RK_WORKER_INIT;
static int listener = -1, route_socket = -1, debug;
static uint64_t host_netns_cookie;
static struct seccomp_notif_sizes sizes;

struct pending {
    int notify_fd, host_fd, target_fd, cloexec, nonblocking, pid;
    uint64_t id;
    long long deadline_ms;          /* 0: none */
    struct pending *next;
};
static struct pending *pendings;
static int pending_count;

static void say(const char *format, ...)
{
    char line[512];
    int n = snprintf(line, sizeof line, "[rootlesskit:parent] bypass4netns: ");
    va_list ap;
    va_start(ap, format);
    n += vsnprintf(line + n, sizeof line - n - 1, format, ap);
    va_end(ap);
    if (n > (int)sizeof line - 2)
        n = sizeof line - 2;
    line[n++] = '\n';
    (void)!write(2, line, n);
}

/* --debug: one line per decision, naming the caller and the destination */
static void decided(int pid, const struct sockaddr_storage *sa, const char *what)
{
    char text[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (!debug)
        return;
    if (sa->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, text, sizeof text);
        port = ntohs(((const struct sockaddr_in *)sa)->sin_port);
    } else if (sa->ss_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, text, sizeof text);
        port = ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
    }
    say("pid %d connect %s port %d: %s", pid, text, port, what);
}

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static uint64_t netns_cookie(int fd)
{
    uint64_t cookie = 0;
    socklen_t len = sizeof cookie;
    if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len) < 0)
        return 0;
    return cookie;
}

/* ---- where a destination goes ---------------------------------------------------------- */

static int is_v4_mapped(const struct in6_addr *a)
{
    static const unsigned char prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    return memcmp(a->s6_addr, prefix, 12) == 0;
}

/* The longest matching route of the container's own table (/proc/PID/net/route or ipv6_route):
 * 1 if it is a gateway route, 0 if not (a connected network: other containers), -1 if none. */
static int container_routes_via_gateway(int pid, int family, const unsigned char *addr)
{
    char path[64], line[512];
    int best_len = -1, best_gateway = -1;
    snprintf(path, sizeof path, "/proc/%d/net/%s", pid, family == AF_INET ? "route" : "ipv6_route");
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    while (fgets(line, sizeof line, f)) {
        if (family == AF_INET) {
            char iface[64];
            unsigned int dest, gateway, flags, mask;
            int refcnt, use, metric;
            if (sscanf(line, "%63s %x %x %x %d %d %d %x", iface, &dest, &gateway, &flags, &refcnt, &use,
                       &metric, &mask) != 8 || !(flags & 0x1))   /* RTF_UP */
                continue;
            uint32_t a;
            memcpy(&a, addr, 4);                      /* both in network order, as the file's */
            int len = __builtin_popcount(mask);
            if ((a & mask) == dest && len > best_len) {
                best_len = len;
                best_gateway = (flags & 0x2) != 0;    /* RTF_GATEWAY */
            }
        } else {
            char dest_hex[33];
            unsigned int plen, flags;
            if (sscanf(line, "%32s %x %*s %*x %*s %*x %*x %*x %x", dest_hex, &plen, &flags) != 3
                || !(flags & 0x1) || plen > 128)
                continue;
            unsigned char dest[16];
            for (int i = 0; i < 16; i++)
                sscanf(dest_hex + 2 * i, "%2hhx", &dest[i]);
            int match = 1;
            for (unsigned int bit = 0; bit < plen && match; bit++)
                match = ((addr[bit / 8] ^ dest[bit / 8]) & (0x80 >> (bit % 8))) == 0;
            if (match && (int)plen > best_len && !(flags & 0x200)) {   /* not RTF_REJECT */
                best_len = plen;
                best_gateway = (flags & 0x2) != 0;
            }
        }
    }
    fclose(f);
    return best_gateway;
}

/* The namespace's answer (RTM_GETROUTE on a netlink socket the child made there): 1 if the
 * destination leaves through a gateway (the default route to the tap's gateway), else 0. */
static int namespace_routes_via_gateway(int family, const unsigned char *addr)
{
    struct {
        struct nlmsghdr nh;
        struct rtmsg rt;
        char attrs[64];
    } req;
    static uint32_t seq;
    int alen = family == AF_INET ? 4 : 16;
    memset(&req, 0, sizeof req);
    req.nh.nlmsg_type = RTM_GETROUTE;
    req.nh.nlmsg_flags = NLM_F_REQUEST;
    req.nh.nlmsg_seq = ++seq;
    req.rt.rtm_family = family;
    req.rt.rtm_dst_len = alen * 8;
    struct rtattr *rta = (struct rtattr *)((char *)&req + NLMSG_ALIGN(NLMSG_LENGTH(sizeof req.rt)));
    rta->rta_type = RTA_DST;
    rta->rta_len = RTA_LENGTH(alen);
    memcpy(RTA_DATA(rta), addr, alen);
    req.nh.nlmsg_len = NLMSG_ALIGN(NLMSG_LENGTH(sizeof req.rt)) + RTA_ALIGN(rta->rta_len);
    if (send(route_socket, &req, req.nh.nlmsg_len, 0) < 0)
        return 0;
    char buf[4096];
    for (;;) {
        ssize_t n = recv(route_socket, buf, sizeof buf, 0);
        if (n < 0)
            return 0;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_seq != seq)
                continue;
            if (nh->nlmsg_type != RTM_NEWROUTE)
                return 0;                         /* NLMSG_ERROR: unreachable, say */
            struct rtmsg *rt = NLMSG_DATA(nh);
            if (rt->rtm_type != RTN_UNICAST)
                return 0;
            int len = RTM_PAYLOAD(nh);
            for (struct rtattr *a = RTM_RTA(rt); RTA_OK(a, len); a = RTA_NEXT(a, len))
                if (a->rta_type == RTA_GATEWAY || a->rta_type == RTA_VIA)
                    return 1;
            return 0;
        }
    }
}

/* Outside, in both the container's and the namespace's view; never loopback or unspecified. */
static int destination_is_outside(int pid, const struct sockaddr_storage *sa)
{
    unsigned char addr[16];
    int family;
    if (sa->ss_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        family = AF_INET;
    } else {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (is_v4_mapped(a6)) {
            memcpy(addr, a6->s6_addr + 12, 4);
            family = AF_INET;
        } else {
            memcpy(addr, a6->s6_addr, 16);
            family = AF_INET6;
        }
    }
    if (family == AF_INET) {
        if (addr[0] == 127 || addr[0] == 0 || addr[0] >= 224)   /* loopback, "this host", multicast */
            return 0;
    } else {
        static const unsigned char zero[16];
        if (memcmp(addr, zero, 15) == 0 && (addr[15] == 0 || addr[15] == 1))   /* :: and ::1 */
            return 0;
        if (addr[0] == 0xff || (addr[0] == 0xfe && (addr[1] & 0xc0) == 0x80))  /* multicast, link-local */
            return 0;
    }
    return container_routes_via_gateway(pid, family, addr) == 1 && namespace_routes_via_gateway(family, addr);
}

/* ---- the container's socket ------------------------------------------------------------- */

/* Options a program may set before connect(2) that shape the connection. Each that differs from a
 * fresh socket's is set on the host socket (COPY); one that names the container's devices, needs
 * privileges or changes how connect(2) behaves (REFUSE) sends the connection to the normal stack,
 * as does one that cannot be set. Buffer sizes are not carried over: set, they would switch off
 * the host's autotuning, and the container namespace's defaults differ from the host's anyway. */
enum { COPY, REFUSE };
static const struct { int level, name, how; } copied_options[] = {
    { SOL_SOCKET, SO_REUSEADDR, COPY }, { SOL_SOCKET, SO_REUSEPORT, COPY }, { SOL_SOCKET, SO_KEEPALIVE, COPY },
    { SOL_SOCKET, SO_LINGER, COPY }, { SOL_SOCKET, SO_OOBINLINE, COPY }, { SOL_SOCKET, SO_PRIORITY, COPY },
    { SOL_SOCKET, SO_RCVLOWAT, COPY }, { SOL_SOCKET, SO_RCVTIMEO, COPY }, { SOL_SOCKET, SO_SNDTIMEO, COPY },
    { SOL_SOCKET, SO_TIMESTAMP, COPY }, { SOL_SOCKET, SO_MARK, REFUSE }, { SOL_SOCKET, SO_BINDTODEVICE, REFUSE },
    { IPPROTO_TCP, TCP_NODELAY, COPY }, { IPPROTO_TCP, TCP_MAXSEG, COPY }, { IPPROTO_TCP, TCP_KEEPIDLE, COPY },
    { IPPROTO_TCP, TCP_KEEPINTVL, COPY }, { IPPROTO_TCP, TCP_KEEPCNT, COPY }, { IPPROTO_TCP, TCP_USER_TIMEOUT, COPY },
    { IPPROTO_TCP, TCP_WINDOW_CLAMP, COPY }, { IPPROTO_TCP, TCP_FASTOPEN_CONNECT, REFUSE },
    { IPPROTO_IP, IP_TOS, COPY }, { IPPROTO_IP, IP_TTL, COPY }, { IPPROTO_IP, IP_RECVERR, COPY },
    { IPPROTO_IP, IP_FREEBIND, REFUSE }, { IPPROTO_IP, IP_TRANSPARENT, REFUSE },
    { IPPROTO_IPV6, IPV6_V6ONLY, COPY }, { IPPROTO_IPV6, IPV6_TCLASS, COPY },
    { IPPROTO_IPV6, IPV6_UNICAST_HOPS, COPY }, { IPPROTO_IPV6, IPV6_RECVERR, COPY },
};

static int copy_option(int from, int to, int fresh, int level, int name, int how)
{
    char a[64], b[64];
    socklen_t alen = sizeof a, blen = sizeof b;
    if (getsockopt(from, level, name, a, &alen) < 0)
        return 0;                                 /* unknown here: nothing to copy */
    if (getsockopt(fresh, level, name, b, &blen) == 0 && alen == blen && memcmp(a, b, alen) == 0)
        return 0;
    return how == REFUSE || setsockopt(to, level, name, a, alen) < 0 ? -1 : 0;
}

static int copy_options(int from, int to, int domain)
{
    int fresh = socket(domain, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fresh < 0)
        return -1;
    int ret = 0;
    for (size_t i = 0; i < sizeof copied_options / sizeof *copied_options && ret == 0; i++) {
        int level = copied_options[i].level;
        if ((domain == AF_INET6 && level == IPPROTO_IP) || (domain == AF_INET && level == IPPROTO_IPV6))
            continue;
        ret = copy_option(from, to, fresh, level, copied_options[i].name, copied_options[i].how);
    }
    close(fresh);
    return ret;
}

static int target_fd_cloexec(int pid, int fd)
{
    char path[64], line[128];
    int cloexec = 0;
    snprintf(path, sizeof path, "/proc/%d/fdinfo/%d", pid, fd);
    FILE *f = fopen(path, "re");
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned int flags;
        if (sscanf(line, "flags: %o", &flags) == 1)
            cloexec = (flags & O_CLOEXEC) != 0;
    }
    fclose(f);
    return cloexec;
}

static int unbound(int fd, int domain)
{
    struct sockaddr_storage local;
    socklen_t len = sizeof local;
    if (getsockname(fd, (struct sockaddr *)&local, &len) < 0)
        return 0;
    if (domain == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)&local;
        return in->sin_port == 0 && in->sin_addr.s_addr == 0;
    }
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&local;
    return in6->sin6_port == 0 && IN6_IS_ADDR_UNSPECIFIED(&in6->sin6_addr);
}

/* ---- answering -------------------------------------------------------------------------- */

static void answer(int notify_fd, uint64_t id, int error, int continue_)
{
    struct seccomp_notif_resp resp = { .id = id };
    if (notify_fd < 0)
        return;
    if (continue_)
        resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    else
        resp.error = error ? -error : 0;
    if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT)
        say("answering a notification failed: %s", strerror(errno));
}

static void finish(struct pending *p)
{
    int error = 0;
    if (p->notify_fd < 0)
        return;
    socklen_t len = sizeof error;
    if (getsockopt(p->host_fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
        error = errno;
    if (error) {                                  /* the host could not connect: the normal stack tries */
        if (debug)
            say("pid %d: the host's connection failed (%s): normal stack", p->pid, strerror(error));
        answer(p->notify_fd, p->id, 0, 1);
        return;
    }
    if (!p->nonblocking) {
        int flags = fcntl(p->host_fd, F_GETFL);
        fcntl(p->host_fd, F_SETFL, flags & ~O_NONBLOCK);
    }
    struct seccomp_notif_addfd addfd = {
        .id = p->id, .flags = SECCOMP_ADDFD_FLAG_SETFD, .srcfd = p->host_fd, .newfd = p->target_fd,
        .newfd_flags = p->cloexec ? O_CLOEXEC : 0,
    };
    if (ioctl(p->notify_fd, SECCOMP_IOCTL_NOTIF_ADDFD, &addfd) < 0) {
        if (errno != ENOENT)                      /* ENOENT: the caller went away (a signal) */
            say("handing a connected socket over failed: %s", strerror(errno));
        answer(p->notify_fd, p->id, 0, 1);
        return;
    }
    if (debug)
        say("pid %d: connected on the host: bypassed", p->pid);
    answer(p->notify_fd, p->id, 0, 0);
}

static void drop_pending(struct pending *p)
{
    for (struct pending **pp = &pendings; *pp; pp = &(*pp)->next)
        if (*pp == p) {
            *pp = p->next;
            break;
        }
    epoll_ctl(worker.epoll, EPOLL_CTL_DEL, p->host_fd, NULL);
    close(p->host_fd);
    pending_count--;
    free(p);
}

/* Read the destination of connect(fd, addr, len), whatever the caller's ABI; 0 or -errno. */
static int read_arguments(const struct seccomp_notif *req, int *fd, struct sockaddr_storage *sa, socklen_t *len,
                          int *native)
{
    uint64_t addr_ptr, addr_len;
    *native = req->data.arch == AUDIT_ARCH_X86_64 && req->data.nr == SYS_connect;
    if (*native || (req->data.arch == AUDIT_ARCH_X86_64 && req->data.nr == (X32_BIT | SYS_connect))
        || (req->data.arch == AUDIT_ARCH_I386 && req->data.nr == I386_CONNECT)) {
        *fd = (int)req->data.args[0];
        addr_ptr = req->data.args[1];
        addr_len = req->data.args[2];
    } else if (req->data.arch == AUDIT_ARCH_I386 && req->data.nr == I386_SOCKETCALL
               && req->data.args[0] == SOCKETCALL_CONNECT) {
        uint32_t args[3];
        struct iovec local = { args, sizeof args }, remote = { (void *)(uintptr_t)req->data.args[1], sizeof args };
        if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) != sizeof args)
            return -EFAULT;
        *fd = (int)args[0];
        addr_ptr = args[1];
        addr_len = args[2];
    } else {
        return -ENOSYS;                           /* not a connect: nothing for us */
    }
    memset(sa, 0, sizeof *sa);
    *len = addr_len > sizeof *sa ? sizeof *sa : (socklen_t)addr_len;
    if (*len > 0) {
        struct iovec local = { sa, *len }, remote = { (void *)(uintptr_t)addr_ptr, *len };
        if (process_vm_readv(req->pid, &local, 1, &remote, 1, 0) != (ssize_t)*len)
            return -EFAULT;
    }
    return 0;
}

static void on_notification(int notify_fd, struct seccomp_notif *req)
{
    memset(req, 0, sizes.seccomp_notif);
    if (ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_RECV, req) < 0)
        return;                                   /* ENOENT: the caller is already gone */
    int fd, native, pidfd = -1, target = -1, host = -1;
    struct sockaddr_storage sa;
    socklen_t len;
    int ret = read_arguments(req, &fd, &sa, &len, &native);
    if (ret == -ENOSYS) {
        answer(notify_fd, req->id, 0, 1);
        return;
    }
    /* the memory we read was the caller's, not a recycled pid's */
    if (ret < 0 || ioctl(notify_fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &req->id) < 0) {
        answer(notify_fd, req->id, ret < 0 ? -ret : 0, ret >= 0);
        return;
    }
    pidfd = syscall(SYS_pidfd_open, req->pid, 0);
    if (pidfd >= 0)
        target = syscall(SYS_pidfd_getfd, pidfd, fd, 0);
    if (target < 0) {                             /* not a descriptor of the caller's: the kernel says so */
        goto normal;
    }
    if (netns_cookie(target) == host_netns_cookie) {
        /* one of ours, established: it must never move (AF_UNSPEC would disconnect it) */
        decided(req->pid, &sa, "a host socket already: EISCONN");
        answer(notify_fd, req->id, EISCONN, 0);
        goto out;
    }
    int domain = 0, type = 0;
    socklen_t olen = sizeof domain;
    getsockopt(target, SOL_SOCKET, SO_DOMAIN, &domain, &olen);
    olen = sizeof type;
    getsockopt(target, SOL_SOCKET, SO_TYPE, &type, &olen);
    if (!native || type != SOCK_STREAM || (domain != AF_INET && domain != AF_INET6) || sa.ss_family != domain
        || len < (domain == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6))
        || pending_count >= MAX_PENDING || !unbound(target, domain)) {
        decided(req->pid, &sa, "not a fresh TCP socket of this ABI: normal stack");
        goto normal;
    }
    if (!destination_is_outside(req->pid, &sa)) {
        decided(req->pid, &sa, "not outside: normal stack");
        goto normal;
    }
    host = socket(domain, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (host < 0 || copy_options(target, host, domain) < 0) {
        decided(req->pid, &sa, "an option that cannot be carried over: normal stack");
        goto normal;
    }
    int file_flags = fcntl(target, F_GETFL);
    if (connect(host, (struct sockaddr *)&sa, len) < 0 && errno != EINPROGRESS) {
        decided(req->pid, &sa, "the host cannot connect: normal stack");
        goto normal;
    }
    decided(req->pid, &sa, "outside: connecting on the host");
    struct pending *p = calloc(1, sizeof *p);
    if (!p)
        goto normal;
    *p = (struct pending){ notify_fd, host, fd, target_fd_cloexec(req->pid, fd), (file_flags & O_NONBLOCK) != 0,
                           req->pid, req->id, 0, pendings };
    if (p->nonblocking)
        p->deadline_ms = now_ms() + NONBLOCK_WAIT_MS;
    struct epoll_event ev = { .events = EPOLLOUT | EPOLLONESHOT, .data.u64 = (uint64_t)(uintptr_t)p | TAG_PENDING };
    if (epoll_ctl(worker.epoll, EPOLL_CTL_ADD, host, &ev) < 0) {
        free(p);
        goto normal;
    }
    pendings = p;
    pending_count++;
    host = -1;                                    /* the pending connection owns it now */
    goto out;
normal:
    answer(notify_fd, req->id, 0, 1);
out:
    if (host >= 0)
        close(host);
    if (target >= 0)
        close(target);
    if (pidfd >= 0)
        close(pidfd);
}

/* runc connects, sends the container's state (JSON) with the notification descriptor, closes. */
static void on_runc(void)
{
    int conn = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
    if (conn < 0)
        return;
    struct timeval timeout = { 2, 0 };
    setsockopt(conn, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    char data[8192];
    union {
        char buf[CMSG_SPACE(4 * sizeof(int))];
        struct cmsghdr align;
    } control;
    struct iovec iov = { data, sizeof data };
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                          .msg_controllen = sizeof control.buf };
    int notify_fd = -1;
    if (recvmsg(conn, &msg, MSG_CMSG_CLOEXEC) > 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
                continue;
            int n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
            for (int i = 0; i < n; i++) {
                int fd;
                memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
                if (notify_fd < 0)
                    notify_fd = fd;
                else
                    close(fd);
            }
        }
    }
    close(conn);
    if (notify_fd < 0)
        return;
    char link[64] = "";
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", notify_fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    if (n <= 0 || strncmp(link, "anon_inode:seccomp notify", (size_t)n) != 0) {
        say("ignored a connection that did not carry a seccomp notification descriptor");
        close(notify_fd);
        return;
    }
    fcntl(notify_fd, F_SETFL, fcntl(notify_fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ((uint64_t)notify_fd << 2) | TAG_NOTIFY };
    if (epoll_ctl(worker.epoll, EPOLL_CTL_ADD, notify_fd, &ev) < 0)
        close(notify_fd);
}

static void forget_notify_fd(int notify_fd)
{
    /* the container is gone: its parked connects cannot be answered any more. They are dropped
     * after this round of events (one of them may still be in it), not here. */
    for (struct pending *p = pendings; p; p = p->next)
        if (p->notify_fd == notify_fd) {
            p->notify_fd = -1;
            p->deadline_ms = 1;
        }
    epoll_ctl(worker.epoll, EPOLL_CTL_DEL, notify_fd, NULL);
    close(notify_fd);
}

static void *bypass_main(void *unused)
{
    (void)unused;
    struct seccomp_notif *req = calloc(1, sizes.seccomp_notif < sizeof *req ? sizeof *req : sizes.seccomp_notif);
    struct epoll_event events[64];
    for (;;) {
        int timeout = -1;
        long long now = now_ms();
        for (struct pending *p = pendings; p; p = p->next)
            if (p->deadline_ms && (timeout < 0 || p->deadline_ms - now < timeout))
                timeout = p->deadline_ms > now ? (int)(p->deadline_ms - now) : 0;
        int n = epoll_wait(worker.epoll, events, 64, timeout);
        for (int i = 0; i < n; i++) {
            uint64_t data = events[i].data.u64;
            if (data == 0) {                      /* the command pipe: nothing is sent on it yet */
                char drain[64];
                (void)!read(worker.cmd_r, drain, sizeof drain);
            } else if ((data & 3) == TAG_LISTENER) {
                on_runc();
            } else if ((data & 3) == TAG_NOTIFY) {
                int notify_fd = (int)(data >> 2);
                if (events[i].events & EPOLLIN)
                    on_notification(notify_fd, req);
                else if (events[i].events & (EPOLLHUP | EPOLLERR))
                    forget_notify_fd(notify_fd);
            } else {
                struct pending *p = (struct pending *)(uintptr_t)(data & ~3ULL);
                finish(p);
                drop_pending(p);
            }
        }
        now = now_ms();
        for (struct pending *p = pendings, *next; p; p = next) {
            next = p->next;
            if (p->deadline_ms && p->deadline_ms <= now) {   /* too slow for a non-blocking caller */
                if (debug && p->notify_fd >= 0)
                    say("pid %d: the host's connection is too slow for a non-blocking caller: normal stack", p->pid);
                        answer(p->notify_fd, p->id, 0, 1);
                drop_pending(p);
            }
        }
    }
    return NULL;
}

int rk_bypass_start(int listen_fd, int route_fd, int debug_)
{
    debug = debug_;
    if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sizes) < 0)
        return -errno;
    int probe = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (probe < 0)
        return -errno;
    host_netns_cookie = netns_cookie(probe);
    close(probe);
    if (host_netns_cookie == 0)
        return -ENOPROTOOPT;                      /* SO_NETNS_COOKIE: Linux 5.14 */
    listener = listen_fd;
    route_socket = route_fd;
    int ret = rk_worker_start(&worker, bypass_main);
    if (ret < 0)
        return ret;
    struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTENER };
    return epoll_ctl(worker.epoll, EPOLL_CTL_ADD, listener, &ev) < 0 ? -errno : 0;
}
