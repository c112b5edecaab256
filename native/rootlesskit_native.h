/* Declarations shared by the C source and the cffi cdef (native/builder.py).
 * Every call returns 0 (or a non-negative value) on success and -errno on failure, so the
 * Python side never races on a global errno. */
int rk_unshare(int flags);
int rk_setns(int fd, int nstype);
int rk_mount(const char *source, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int rk_prctl(int option, unsigned long arg2, unsigned long arg3,
             unsigned long arg4, unsigned long arg5);
int rk_madvise(unsigned long addr, unsigned long length, int advice);
int rk_drop_capabilities(void);
/* rootlesskit_pump.c: the builtin port driver's splice pump (one thread for all connections).
 * rk_pump_add takes ownership of both sockets; a group is the id of the published port. */
int rk_pump_start(void);
int rk_pump_add(int a, int b, int group);
int rk_pump_close_group(int group);
