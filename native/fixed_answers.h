/* `--version` and `--help` answered before the interpreter starts, and rootlesskit-docker-proxy's
 * wait done without it (rootlesskit_py_proxy_wait, below).
 *
 * Why: scripts call these (the setup tool, installers, package scripts) and each call would pay a
 * whole interpreter start, about 10 ms against Go's 3 ms. The texts are not written here: build.py
 * (packaging/fixed_answers.py) runs the Python programs themselves and puts their output in front
 * of this file, as `rkpy_answers`, `rkpy_lxc_paths` and RKPY_LXC_PATHS.
 *
 * How: an exact argv match on the name the program was started as (argv[0]'s last part, as the
 * Python dispatcher uses it) and one argument. rootlesskit's help shows the default
 * --lxc-user-nic-binary, the first of upstream's paths that exists on this machine, so it comes in
 * one variant per path plus one for none. Anything else, and a write that fails, goes on to the
 * interpreter, which answers (and reports the failure) as it always does.
 * Every program but rootlesskit first drops what a `setcap` on the shared file grants, as the
 * Python dispatcher does, with the same C function (native/rootlesskit_native.c, linked in with the
 * _native module). Not a cffi function itself: it runs from main(), before there is any Python.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int rk_drop_capabilities(void);

static int rootlesskit_py_lxc_variant(void) {
    struct stat st;
    for (int i = 0; i < RKPY_LXC_PATHS; i++) {
        if (stat(rkpy_lxc_paths[i], &st) == 0) {
            return i;
        }
    }
    return RKPY_LXC_PATHS;
}

/* rootlesskit-docker-proxy's wait, without the interpreter.
 *
 * Why: Docker 20.10 to 27 run one proxy per published port for as long as the container runs, and
 * an interpreter that only waits for SIGINT kept about 4.5 MiB of its own per proxy (Go's: 1 MiB).
 * How: once the port is published and the real docker-proxy runs, the Python proxy (cli/
 * docker_proxy.py) execs this file again with SIGINT blocked and RKPY_ENV_PROXY_PHASE "wait PID ID".
 * Here the process waits for SIGINT (dockerd's stop), kills and reaps the real proxy (still its
 * child) and removes the port with one DELETE, so a stop costs no interpreter start either. Only
 * when that does not answer 200 is the file exec'd once more, with "remove ID": the interpreter
 * tries again and warns with the messages it always gives. The pid and argv stay the ones dockerd
 * knows. Capabilities a `setcap` on the file gave this exec are dropped first, as for every
 * program but rootlesskit. */
static int rootlesskit_py_remove_port(long id) {
    char const *dir = getenv(RKPY_ENV_STATE_DIR);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if (dir == NULL || snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, RKPY_STATE_API_SOCK) >=
            (int)sizeof addr.sun_path) {
        return -1;
    }
    char request[128], head[16] = "";
    int size = snprintf(request, sizeof request,
                        "DELETE /v1/ports/%ld HTTP/1.1\r\nHost: rootlesskit\r\nConnection: close\r\n\r\n", id);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    struct timeval patience = { .tv_sec = 10 };  /* a server that never answers: the interpreter tries */
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
    size_t got = 0;
    if (connect(fd, (struct sockaddr *)&addr, sizeof addr) == 0 && write(fd, request, (size_t)size) == size) {
        while (got < 13) {  /* the status line's start: the port is gone once the server says 200 */
            ssize_t n = read(fd, head + got, 13 - got);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                break;
            }
            got += (size_t)n;
        }
    }
    close(fd);
    return strncmp(head, "HTTP/1.1 200 ", 13) == 0 ? 0 : -1;
}

static void rootlesskit_py_proxy_wait(char **argv) {
    char const *phase = getenv(RKPY_ENV_PROXY_PHASE);
    long pid, id;
    char rest;
    if (phase == NULL || sscanf(phase, "wait %ld %ld%c", &pid, &id, &rest) != 2) {
        return;
    }
    (void)rk_drop_capabilities();  /* should it fail, nothing below uses what it would have dropped */
    sigset_t interrupt;
    int sig;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigprocmask(SIG_BLOCK, &interrupt, NULL);  /* blocked across the exec already; a SIGINT sent since waits */
    while (sigwait(&interrupt, &sig) != 0) {
    }
    kill((pid_t)pid, SIGKILL);
    while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR) {
    }
    if (rootlesskit_py_remove_port(id) == 0) {
        _exit(0);
    }
    char next[48];
    snprintf(next, sizeof next, "remove %ld", id);
    if (setenv(RKPY_ENV_PROXY_PHASE, next, 1) == 0) {
        execv("/proc/self/exe", argv);
    }
    int error = errno;
    fprintf(stderr, "rootlesskit-docker-proxy: port %ld stays published: exec /proc/self/exe: %s\n"
            "Remove it with: rootlessctl remove-ports %ld\n", id, strerror(error), id);
    _exit(1);
}

static void rootlesskit_py_answer(int argc, char **argv) {
    rootlesskit_py_proxy_wait(argv);
    if (argc != 2) {
        return;
    }
    char const *slash = strrchr(argv[0], '/');
    char const *program = slash ? slash + 1 : argv[0];
    for (size_t i = 0; i < sizeof rkpy_answers / sizeof rkpy_answers[0]; i++) {
        struct rkpy_answer const *answer = &rkpy_answers[i];
        if (strcmp(program, answer->program) != 0 || strcmp(argv[1], answer->arg) != 0) {
            continue;
        }
        if (answer->drops_capabilities && rk_drop_capabilities() < 0) {
            return; /* the interpreter tries again and says why it failed */
        }
        struct rkpy_text const *text = &answer->by_lxc_path[answer->lxc_dependent ? rootlesskit_py_lxc_variant() : 0];
        size_t done = 0;
        while (done < text->size) {
            ssize_t n = write(STDOUT_FILENO, text->bytes + done, text->size - done);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                return;
            }
            done += (size_t)n;
        }
        _exit(0);
    }
}
