/* System calls that Python 3.11's os module does not expose: namespaces, mounts, prctl. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rootlesskit_native.h"

#define RK_RET(expr) do { long _r = (long)(expr); return _r < 0 ? -errno : (int)_r; } while (0)

int rk_unshare(int flags) { RK_RET(unshare(flags)); }

int rk_setns(int fd, int nstype) { RK_RET(setns(fd, nstype)); }

int rk_mount(const char *source, const char *target, const char *fstype,
             unsigned long flags, const char *data)
{
    RK_RET(mount(source, target, fstype, flags, data));
}

int rk_prctl(int option, unsigned long arg2, unsigned long arg3,
             unsigned long arg4, unsigned long arg5)
{
    RK_RET(prctl(option, arg2, arg3, arg4, arg5));
}

int rk_madvise(unsigned long addr, unsigned long length, int advice)
{
    RK_RET(madvise((void *)addr, length, advice));
}

int rk_drop_capabilities(void)
{
    /* capget/capset(2) version 3 (two 32-bit words per set); raw syscalls, as musl has no wrappers */
    struct { uint32_t version; int pid; } header = { 0x20080522, 0 };
    struct { uint32_t effective, permitted, inheritable; } data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    if (syscall(SYS_capget, &header, data) < 0)
        return -errno;
    int held = (data[0].permitted | data[1].permitted) != 0;
    memset(data, 0, sizeof(data));
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;  /* EINVAL: a kernel before 4.3, which has no ambient set */
    if (syscall(SYS_capset, &header, data) < 0)
        return -errno;
    return held;
}


struct rk_spawn_args {
    const char *path;
    char *const *argv;
    char **envp;
    const int *fd_map, *keep_fds;
    int n_fd_map, n_keep_fds, setsid_, quiet, listen_pid_slot, pdeathsig;
    long nofile_soft, nofile_hard;
    pid_t parent;
    int error;  /* written by the child (shared memory) when it cannot exec */
};

/* The child's side, on its own stack. Only system calls: it shares the parent's memory, and the
 * parent is suspended until the exec (or _exit) below. */
static int rk_spawn_child(void *opaque)
{
    struct rk_spawn_args *a = opaque;
    char listen_pid[32];
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    sigset_t none;
    for (int sig = 1; sig < _NSIG; sig++)  /* what the interpreter caught or ignored starts at default */
        sigaction(sig, &dfl, NULL);
    if (prctl(PR_SET_PDEATHSIG, a->pdeathsig, 0, 0, 0) < 0 || getppid() != a->parent)
        goto fail;  /* a parent that died before the signal was armed would never send it */
    if (a->setsid_ && setsid() < 0)
        goto fail;
    if (a->quiet) {
        int null = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
            goto fail;
    }
    for (int i = 0; i < a->n_fd_map; i++) {
        int target = a->fd_map[2 * i], source = a->fd_map[2 * i + 1];
        if (target == source ? fcntl(target, F_SETFD, 0) < 0 : dup2(source, target) < 0)
            goto fail;
    }
    for (int i = 0; i < a->n_keep_fds; i++)
        if (fcntl(a->keep_fds[i], F_SETFD, 0) < 0)
            goto fail;
    if (a->listen_pid_slot >= 0) {
        snprintf(listen_pid, sizeof(listen_pid), "LISTEN_PID=%d", (int)getpid());
        a->envp[a->listen_pid_slot] = listen_pid;  /* the parent's array: it only frees it afterwards */
    }
    if (a->nofile_soft >= 0) {
        struct rlimit limit = { (rlim_t)a->nofile_soft, (rlim_t)a->nofile_hard };
        if (setrlimit(RLIMIT_NOFILE, &limit) < 0)
            goto fail;
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(a->path, a->argv, a->envp);
fail:
    a->error = errno ? errno : EINVAL;
    _exit(127);
}

int rk_spawn(const char *path, char *const argv[], char *envp[], const int *fd_map, int n_fd_map,
             const int *keep_fds, int n_keep_fds, int setsid_, int quiet, int listen_pid_slot,
             long nofile_soft, long nofile_hard, int pdeathsig)
{
    struct rk_spawn_args a = { path, argv, envp, fd_map, keep_fds, n_fd_map, n_keep_fds, setsid_, quiet,
                               listen_pid_slot, pdeathsig, nofile_soft, nofile_hard, getpid(), 0 };
    size_t stack_size = 64 * 1024;
    char *stack = malloc(stack_size);
    sigset_t all, old;
    int status;
    if (stack == NULL)
        return -ENOMEM;
    /* No handler of ours may run in the child, on our memory: everything is blocked across the
     * clone, and the child sets default dispositions before it unblocks. */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid_t pid = clone(rk_spawn_child, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
    int clone_errno = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    free(stack);
    if (pid < 0)
        return -clone_errno;
    if (a.error) {
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
            ;
        return -a.error;
    }
    return pid;
}
