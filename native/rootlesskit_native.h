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
/* 1 if the process held a permitted capability before, 0 if not */
int rk_drop_capabilities(void);
/* Start `path` in a new process sharing our memory until it execs (clone CLONE_VM|CLONE_VFORK), for
 * long-lived helpers and the command: a fork of the interpreter copies its page tables, and then
 * the copy-on-write faults of the Python code it runs cost 1-2 ms per start. Returns the pid, or
 * -errno if the exec failed (the child is reaped then). `fd_map` holds `n_fd_map` pairs (target,
 * source); `keep_fds` stay open at their numbers; `listen_pid_slot` >= 0 is the index in `envp`
 * replaced by LISTEN_PID=<the new pid>; `nofile_soft` >= 0 restores that RLIMIT_NOFILE. */
int rk_spawn(const char *path, char *const argv[], char *envp[], const int *fd_map, int n_fd_map,
             const int *keep_fds, int n_keep_fds, int setsid_, int quiet, int listen_pid_slot,
             long nofile_soft, long nofile_hard, int pdeathsig);
/* rootlesskit_pump.c: the builtin port driver's splice pump (one thread for all connections).
 * rk_pump_add takes ownership of both sockets; a group is the id of the published port. */
int rk_pump_start(void);
int rk_pump_add(int a, int b, int group);
int rk_pump_close_group(int group);
/* rootlesskit_udp.c: the builtin port driver's UDP relay (one thread for all ports), started from
 * the thread in the child's network namespace. rk_udp_add takes ownership of the listening socket
 * `fd`; datagrams go to target_ip:target_port; a group is the id of the published port. */
int rk_udp_start(void);
int rk_udp_add(int fd, int group, const char *target_ip, int target_port);
int rk_udp_close_group(int group);
/* rootlesskit_bypass.c: bypass4netns, one thread serving runc's seccomp notifications on the
 * listening unix socket `listen_fd`; `route_fd` is a NETLINK_ROUTE socket made in the container
 * network's namespace. Takes ownership of both; -ENOPROTOOPT before Linux 5.14. `debug`: a line on
 * stderr per decision. */
int rk_bypass_start(int listen_fd, int route_fd, int debug);
