/* The threads of the builtin port driver's data paths (rootlesskit_pump.c: TCP, rootlesskit_udp.c:
 * UDP) start and take commands alike: each owns an epoll set, in which the read end of a pipe
 * carries fixed-size commands from Python (its event's data.ptr is NULL), so only that thread
 * touches its sockets. Not part of the cffi interface (rootlesskit_native.h). */
#include <pthread.h>
#include <stddef.h>

struct rk_worker {
    int epoll, cmd_r, cmd_w;    /* -1 until started */
    pthread_mutex_t start_lock;
};
#define RK_WORKER_INIT { -1, -1, -1, PTHREAD_MUTEX_INITIALIZER }

/* Start `body` once (later calls return 0) as a detached thread with every signal blocked (signals
 * are the main thread's business); 0 or -errno. */
int rk_worker_start(struct rk_worker *w, void *(*body)(void *));
/* Write one command (under PIPE_BUF bytes, so atomic); 0 or -errno. */
int rk_worker_send(struct rk_worker *w, const void *cmd, size_t size);
