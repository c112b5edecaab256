/* Declarations shared by the C source and the cffi cdef (rootlesskit_py/native/builder.py).
 * Every call returns 0 (or a non-negative value) on success and -errno on failure, so the
 * Python side never races on a global errno. */
int rk_unshare(int flags);
int rk_setns(int fd, int nstype);
int rk_mount(const char *source, const char *target, const char *fstype,
             unsigned long flags, const char *data);
int rk_umount2(const char *target, int flags);
int rk_prctl(int option, unsigned long arg2, unsigned long arg3,
             unsigned long arg4, unsigned long arg5);
int rk_pivot_root(const char *new_root, const char *put_old);
