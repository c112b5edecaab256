/* System calls that Python 3.11's os module does not expose: namespaces, mounts, prctl. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <sys/mount.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
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
    /* capset(2) version 3 (two 32-bit words per set); the raw syscall, as musl has no wrapper */
    struct { uint32_t version; int pid; } header = { 0x20080522, 0 };
    struct { uint32_t effective, permitted, inheritable; } data[2] = { { 0, 0, 0 }, { 0, 0, 0 } };
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return -errno;  /* EINVAL: a kernel before 4.3, which has no ambient set */
    RK_RET(syscall(SYS_capset, &header, data));
}

