/* rootlesskit-docker-proxy without its interpreter: the start (flags, publish, spawn of the real
 * docker-proxy) and the wait for SIGINT (stop the real proxy, remove the port).
 *
 * Why: Docker 20.10 to 27 run one proxy per published port, started one after the other, so
 * `docker run -p 8000-8099:8000-8099` waits for 100 proxy starts. An interpreter start made ours
 * 4.6x slower than Go's per proxy (BENCHMARKS.md), and an interpreter that only waits for SIGINT kept
 * about 4.5 MiB of its own per proxy (Go's: 1 MiB).
 *
 * How: included by native/fixed_answers.h (main() runs it before the interpreter), after the table
 * build.py generates (packaging/fixed_answers.py): the API socket's and the environment's names
 * (rootlesskit_py/names.py) and the keys of the `POST /v1/ports` body in order
 * (rootlesskit_py/api/schema.py's PortSpec), so the JSON shape stays defined once.
 * Only the path dockerd takes when all goes well is done here; anything else (a flag form or value
 * Go's flag package reads differently from plain decimal, `-h`, an API answer that is not the usual
 * 2xx JSON, a driver without the protocol, a loopback child IP the driver refuses, a docker-proxy not
 * found, a failed spawn) goes on to the interpreter (rootlesskit_py/cli/docker_proxy.py) before
 * anything is left published, and it starts over and answers with the messages it always gives.
 * Requests sent here are side-effect free, except a `POST` that succeeded, which is undone with a
 * `DELETE` before handing over. */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

int rk_drop_capabilities(void);
int rk_spawn(const char *path, char *const argv[], char *envp[], const int *fd_map, int n_fd_map,
             const int *keep_fds, int n_keep_fds, int setsid_, int quiet, int listen_pid_slot,
             long nofile_soft, long nofile_hard, int pdeathsig);
extern char **environ;

#define RKPY_PROXY_READY_FD 3
#define RKPY_PROXY_REPLY_MAX 65536  /* an info or port document is far smaller; a larger one: interpreter */

/* A connection to the API socket at `socket_path`, or, for NULL, at $ROOTLESSKIT_STATE_DIR/api.sock. */
static int rootlesskit_py_api_connect(char const *socket_path) {
    char const *dir = getenv(RKPY_ENV_STATE_DIR);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    int size = socket_path != NULL ? snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket_path)
               : dir != NULL && *dir != '\0'
               ? snprintf(addr.sun_path, sizeof addr.sun_path, "%s/%s", dir, RKPY_STATE_API_SOCK) : -1;
    if (size <= 0 || size >= (int)sizeof addr.sun_path) {
        return -1;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&addr, sizeof addr) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int rootlesskit_py_write_all(int fd, char const *bytes, size_t size) {
    while (size > 0) {
        ssize_t n = write(fd, bytes, size);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return -1;
        }
        bytes += n;
        size -= (size_t)n;
    }
    return 0;
}

/* Whether the reply so far (NUL-terminated) holds its whole head and the Content-Length it declares. */
static int rootlesskit_py_reply_complete(char const *reply, size_t got) {
    char const *end = strstr(reply, "\r\n\r\n");
    if (end == NULL) {
        return 0;
    }
    for (char const *line = strstr(reply, "\r\n"); line != NULL && line < end; line = strstr(line + 2, "\r\n")) {
        if (strncasecmp(line + 2, "content-length:", 15) == 0) {
            return (size_t)(end + 4 - reply) + strtoul(line + 17, NULL, 10) <= got;
        }
    }
    return 0;
}

/* The header lines of a response head (NUL-terminated where its blank line was), if every one is
 * as plain as the interpreter's client reads it alike: `token:value`, lines split by CRLF alone, no
 * Transfer-Encoding, at most one Content-Length of 1 to 18 digits. Returns the Content-Length, -1
 * if there is none, -2 for anything else: the interpreter decides then. */
static long rootlesskit_py_plain_head(char const *head) {
    long declared = -1;
    size_t status = strcspn(head, "\r\n");
    if (head[status] == '\n' || (head[status] == '\r' && head[status + 1] != '\n')) {
        return -2;
    }
    for (char const *line = strstr(head, "\r\n"); line != NULL; line = strstr(line, "\r\n")) {
        line += 2;
        size_t name = strspn(line, RKPY_HTTP_TOKEN), size = strcspn(line, "\r\n");
        if (name == 0 || line[name] != ':' || line[size] == '\n' || (line[size] == '\r' && line[size + 1] != '\n')) {
            return -2;
        }
        if (name == 17 && strncasecmp(line, "transfer-encoding", name) == 0) {
            return -2;
        }
        if (name == 14 && strncasecmp(line, "content-length", name) == 0) {
            char const *value = line + name + 1 + strspn(line + name + 1, " \t");
            size_t digits = strspn(value, "0123456789");
            if (declared != -1 || digits == 0 || digits > 18 ||
                    value + digits + strspn(value + digits, " \t") != line + size) {
                return -2;
            }
            declared = strtol(value, NULL, 10);
        }
    }
    return declared;
}

/* One request on its own connection (`Connection: close`, as the Python client) to the API socket
 * at `socket_path` (NULL: the state directory's); the reply read to its end, or to the end its
 * Content-Length gives, into `reply`. Returns the length of a 2xx reply's body, which starts at
 * *body; -1 for anything else (no server, another status, chunked or oversized, a short body). */
static long rootlesskit_py_api_call(char const *socket_path, char const *method, char const *path, char const *json,
                                    char *reply, char **body) {
    char request[1024];
    int size = snprintf(request, sizeof request, "%s %s HTTP/1.1\r\nHost: rootlesskit\r\nConnection: close\r\n",
                        method, path);
    if (size >= (int)sizeof request - 512 || (json != NULL && strlen(json) > 256)) {
        return -1;
    }
    if (json != NULL) {
        size += snprintf(request + size, sizeof request - (size_t)size,
                         "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s", strlen(json), json);
    } else {
        size += snprintf(request + size, sizeof request - (size_t)size, "\r\n");
    }
    int fd = rootlesskit_py_api_connect(socket_path);
    if (fd < 0 || size >= (int)sizeof request || rootlesskit_py_write_all(fd, request, (size_t)size) < 0) {
        if (fd >= 0) {
            close(fd);
        }
        return -1;
    }
    size_t got = 0;
    for (;;) {
        ssize_t n = read(fd, reply + got, RKPY_PROXY_REPLY_MAX - 1 - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            close(fd);
            if (n < 0) {
                return -1;
            }
            break;
        }
        got += (size_t)n;
        if (got == RKPY_PROXY_REPLY_MAX - 1) {
            close(fd);
            return -1;
        }
        reply[got] = '\0';
        if (rootlesskit_py_reply_complete(reply, got)) {
            close(fd);
            break;
        }
    }
    reply[got] = '\0';
    char *end = strstr(reply, "\r\n\r\n");
    if (strncmp(reply, "HTTP/1.1 2", 10) != 0 || !isdigit((unsigned char)reply[10]) ||
            !isdigit((unsigned char)reply[11]) || reply[12] != ' ' || end == NULL) {
        return -1;
    }
    *end = '\0';
    *body = end + 4;
    long length = (long)(got - (size_t)(*body - reply)), declared = rootlesskit_py_plain_head(reply);
    if (declared < -1 || declared > length) {
        return -1;
    }
    length = declared == -1 ? length : declared;
    (*body)[length] = '\0';
    return length;
}

/* A JSON reader just large enough for the two answers read here: it walks a value, and reports the
 * strings, booleans and integers it is asked for. Anything it does not expect fails the walk. */
struct rootlesskit_py_json {
    char const *at;
    int depth;
    int first_member;  /* rootlesskit_py_json_open was the last step: no comma before the next key */
};

static void rootlesskit_py_json_space(struct rootlesskit_py_json *j) {
    while (*j->at == ' ' || *j->at == '\t' || *j->at == '\r' || *j->at == '\n') {
        j->at++;
    }
}

/* A string at j->at: its raw bytes in [*start, *start + *size). Returns 1 if it holds an escape
 * (then its raw bytes are not its value), 0 if not, -1 if it is not a string. */
static int rootlesskit_py_json_string(struct rootlesskit_py_json *j, char const **start, size_t *size) {
    int escaped = 0;
    if (*j->at != '"') {
        return -1;
    }
    char const *p = ++j->at;
    while (*p != '"') {
        if (*p == '\0' || (unsigned char)*p < 0x20) {
            return -1;
        }
        if (*p == '\\') {
            escaped = 1;
            if (*++p == '\0') {
                return -1;
            }
        }
        p++;
    }
    *start = j->at;
    *size = (size_t)(p - j->at);
    j->at = p + 1;
    return escaped;
}

static int rootlesskit_py_json_skip(struct rootlesskit_py_json *j) {
    char const *start;
    size_t size;
    rootlesskit_py_json_space(j);
    if (*j->at == '"') {
        return rootlesskit_py_json_string(j, &start, &size) < 0 ? -1 : 0;
    }
    if (*j->at == '{' || *j->at == '[') {
        char closer = *j->at == '{' ? '}' : ']';
        if (++j->depth > 32) {
            return -1;
        }
        j->at++;
        rootlesskit_py_json_space(j);
        if (*j->at == closer) {
            j->at++;
            j->depth--;
            return 0;
        }
        for (;;) {
            if (closer == '}') {
                rootlesskit_py_json_space(j);
                if (rootlesskit_py_json_string(j, &start, &size) < 0) {
                    return -1;
                }
                rootlesskit_py_json_space(j);
                if (*j->at++ != ':') {
                    return -1;
                }
            }
            if (rootlesskit_py_json_skip(j) < 0) {
                return -1;
            }
            rootlesskit_py_json_space(j);
            if (*j->at == ',') {
                j->at++;
                continue;
            }
            if (*j->at++ != closer) {
                return -1;
            }
            j->depth--;
            return 0;
        }
    }
    char const *p = j->at;  /* a number, true, false or null: the characters they are made of */
    while (*p != '\0' && strchr("0123456789+-.eEtruefalsn", *p) != NULL) {
        p++;
    }
    if (p == j->at) {
        return -1;
    }
    j->at = p;
    return 0;
}

/* Steps into the object at j->at: 0, or -1 if it is not one. Then each rootlesskit_py_json_member
 * call gives the next key (1), or 0 at the object's end, -1 on bad JSON (a missing or stray comma
 * too) or a key with escapes. */
static int rootlesskit_py_json_open(struct rootlesskit_py_json *j) {
    rootlesskit_py_json_space(j);
    if (*j->at != '{') {
        return -1;
    }
    j->at++;
    j->first_member = 1;
    rootlesskit_py_json_space(j);
    return 0;
}

/* (An object opened inside a member's value sets first_member again, and its first member or its
 * end clears it: the outer object's was clear already, so one flag serves every depth.) */
static int rootlesskit_py_json_member(struct rootlesskit_py_json *j, char const **key, size_t *size) {
    rootlesskit_py_json_space(j);
    if (*j->at == '}') {
        j->at++;
        j->first_member = 0;
        return 0;
    }
    if (!j->first_member) {  /* a comma between members, and only there */
        if (*j->at++ != ',') {
            return -1;
        }
        rootlesskit_py_json_space(j);
    }
    j->first_member = 0;
    if (rootlesskit_py_json_string(j, key, size) != 0) {
        return -1;
    }
    rootlesskit_py_json_space(j);
    if (*j->at++ != ':') {
        return -1;
    }
    rootlesskit_py_json_space(j);
    return 1;
}

static int rootlesskit_py_json_is(char const *key, size_t size, char const *name) {
    return strlen(name) == size && memcmp(key, name, size) == 0;
}

/* What the proxy needs of `GET /v1/info`: 0 if the port driver publishes `proto` with a loopback
 * child IP, -1 for anything else (or anything unexpected): the interpreter decides then. */
static int rootlesskit_py_info_allows(char const *body, char const *proto) {
    struct rootlesskit_py_json j = { .at = body };
    char const *key, *text;
    size_t size, text_size;
    int member, driver_ok = 0, proto_ok = 0, loopback_ok = 1;
    if (rootlesskit_py_json_open(&j) < 0) {
        return -1;
    }
    while ((member = rootlesskit_py_json_member(&j, &key, &size)) == 1) {
        if (!rootlesskit_py_json_is(key, size, "portDriver")) {
            if (rootlesskit_py_json_skip(&j) < 0) {
                return -1;
            }
            continue;
        }
        int inner;
        driver_ok = proto_ok = 0;  /* a repeated key: the last one counts, as in a Python dict */
        loopback_ok = 1;
        if (rootlesskit_py_json_open(&j) < 0) {
            return -1;
        }
        while ((inner = rootlesskit_py_json_member(&j, &key, &size)) == 1) {
            if (rootlesskit_py_json_is(key, size, "driver")) {
                if (rootlesskit_py_json_string(&j, &text, &text_size) != 0) {
                    return -1;
                }
                /* none and implicit hand the whole job to the real docker-proxy: the interpreter does */
                driver_ok = text_size > 0 && !rootlesskit_py_json_is(text, text_size, "none") &&
                            !rootlesskit_py_json_is(text, text_size, "implicit");
            } else if (rootlesskit_py_json_is(key, size, "protos")) {
                proto_ok = 0;
                if (*j.at++ != '[') {
                    return -1;
                }
                rootlesskit_py_json_space(&j);
                while (*j.at != ']') {
                    if (rootlesskit_py_json_string(&j, &text, &text_size) != 0) {
                        return -1;
                    }
                    proto_ok |= rootlesskit_py_json_is(text, text_size, proto);
                    rootlesskit_py_json_space(&j);
                    if (*j.at == ',') {
                        j.at++;
                        rootlesskit_py_json_space(&j);
                    } else if (*j.at != ']') {
                        return -1;
                    }
                }
                j.at++;
            } else if (rootlesskit_py_json_is(key, size, "disallowLoopbackChildIP")) {
                loopback_ok = strncmp(j.at, "false", 5) == 0;
                if (rootlesskit_py_json_skip(&j) < 0) {
                    return -1;
                }
            } else if (rootlesskit_py_json_skip(&j) < 0) {
                return -1;
            }
        }
        if (inner < 0) {
            return -1;
        }
    }
    return member == 0 && driver_ok && proto_ok && loopback_ok ? 0 : -1;
}

/* The `id` of the port.Status that `POST /v1/ports` answered, or -1. */
static long rootlesskit_py_status_id(char const *body) {
    struct rootlesskit_py_json j = { .at = body };
    char const *key;
    size_t size;
    int member;
    long id = -1;
    if (rootlesskit_py_json_open(&j) < 0) {
        return -1;
    }
    while ((member = rootlesskit_py_json_member(&j, &key, &size)) == 1) {
        if (rootlesskit_py_json_is(key, size, "id")) {
            char *stop;
            errno = 0;
            id = isdigit((unsigned char)*j.at) ? strtol(j.at, &stop, 10) : -1;
            if (id < 0 || errno != 0 || strchr(",} \t\r\n", *stop) == NULL) {
                return -1;
            }
            j.at = stop;
        } else if (rootlesskit_py_json_skip(&j) < 0) {
            return -1;
        }
    }
    return member == 0 ? id : -1;
}

static int rootlesskit_py_remove_port(long id) {
    char path[48], *reply = malloc(RKPY_PROXY_REPLY_MAX), *body;
    snprintf(path, sizeof path, "/v1/ports/%ld", id);
    int ok = reply != NULL && rootlesskit_py_api_call(NULL, "DELETE", path, NULL, reply, &body) >= 0;
    free(reply);
    return ok ? 0 : -1;
}

/* Wait for SIGINT (blocked by now), kill and reap the real proxy, remove the port. Only when the
 * DELETE does not answer 2xx is the file exec'd once more, with "remove ID": the interpreter tries
 * again and warns with the messages it always gives. The pid and argv stay the ones dockerd knows. */
static void rootlesskit_py_proxy_wait_for(char **argv, long pid, long id) {
    sigset_t interrupt;
    int sig;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigprocmask(SIG_BLOCK, &interrupt, NULL);  /* blocked already; a SIGINT sent since waits */
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

/* The wait after the interpreter published the port and exec'd this file again (cli/docker_proxy.py:
 * a start the C below left to it), with SIGINT blocked and RKPY_ENV_PROXY_PHASE "wait PID ID". */
static void rootlesskit_py_proxy_wait(char **argv) {
    char const *phase = getenv(RKPY_ENV_PROXY_PHASE);
    long pid, id;
    char rest;
    if (phase == NULL || sscanf(phase, "wait %ld %ld%c", &pid, &id, &rest) != 2) {
        return;
    }
    (void)rk_drop_capabilities();  /* should it fail, nothing below uses what it would have dropped */
    rootlesskit_py_proxy_wait_for(argv, pid, id);
}

/* Go's flag package on the five flags, in the forms dockerd writes (`-name value`), plus `--name`
 * and `=value`. Integers only as plain decimal: Go reads `010` as 8 and `0x10` as 16. */
static char const *const rootlesskit_py_proxy_flags[] = {"container-ip", "container-port", "host-ip", "host-port",
                                                        "proto"};

static int rootlesskit_py_decimal(char const *text, long *value) {
    char const *digits = text + (*text == '-');
    size_t n = strlen(digits);
    if (n == 0 || n > 9 || strspn(digits, "0123456789") != n || (digits[0] == '0' && (n > 1 || digits != text))) {
        return -1;
    }
    *value = strtol(text, NULL, 10);
    return 0;
}

/* A string safe to put in JSON as it is (no escape Go's encoder would write). */
static int rootlesskit_py_json_plain(char const *text) {
    for (; *text; text++) {
        if ((unsigned char)*text < 0x20 || (unsigned char)*text >= 0x7f || strchr("\"\\<>&", *text) != NULL) {
            return 0;
        }
    }
    return 1;
}

/* Go's `ParseIP(s) != nil && To4() == nil`, as cli/docker_proxy.py's is_ipv6: 1 or 0; -1 where the
 * C library and Go might differ (a v4-mapped or v4-suffixed form): the interpreter decides then. */
static int rootlesskit_py_is_ipv6(char const *text) {
    struct in6_addr addr;
    if (strchr(text, ':') == NULL || strchr(text, '%') != NULL) {
        return 0;
    }
    if (inet_pton(AF_INET6, text, &addr) != 1) {
        return 0;
    }
    return strchr(text, '.') != NULL ? -1 : 1;
}

/* exec.LookPath("docker-proxy") where it finds an absolute path; NULL sends the interpreter on (a
 * relative PATH entry, where Go refuses, and the not-found error). */
static char *rootlesskit_py_look_path(char const *file, char *found, size_t size) {
    char const *path = getenv("PATH");
    struct stat st;
    if (path == NULL || *path == '\0') {
        return NULL;
    }
    for (char const *entry = path;; entry++) {
        size_t length = strcspn(entry, ":");
        if (length == 0 || entry[0] != '/') {
            return NULL;
        }
        if (snprintf(found, size, "%.*s/%s", (int)length, entry, file) < (int)size && stat(found, &st) == 0 &&
                !S_ISDIR(st.st_mode) && faccessat(AT_FDCWD, found, X_OK, AT_EACCESS) == 0) {
            return found;
        }
        entry += length;
        if (*entry == '\0') {
            return NULL;
        }
    }
}

static void rootlesskit_py_proxy_start(int argc, char **argv) {
    char const *value[5] = {"", "-1", "", "-1", "tcp"};  /* rootlesskit_py_proxy_flags' defaults */
    for (int i = 1; i < argc; i++) {
        char const *arg = argv[i], *equals;
        size_t f, length;
        if (arg[0] != '-' || arg[1] == '\0' || strcmp(arg, "--") == 0) {
            return;  /* arguments after the flags, `--`, `-`: as the interpreter reads them */
        }
        arg += arg[1] == '-' ? 2 : 1;
        equals = strchr(arg, '=');
        length = equals ? (size_t)(equals - arg) : strlen(arg);
        for (f = 0; f < 5; f++) {
            if (strlen(rootlesskit_py_proxy_flags[f]) == length &&
                    strncmp(arg, rootlesskit_py_proxy_flags[f], length) == 0) {
                break;
            }
        }
        if (f == 5 || (equals == NULL && i + 1 == argc)) {
            return;  /* -h, unknown flags, a missing value: the interpreter's messages */
        }
        value[f] = equals ? equals + 1 : argv[++i];
    }
    long container_port, host_port;
    char const *host_ip = value[2], *proto = value[4];
    int ipv6 = rootlesskit_py_is_ipv6(host_ip);
    if (rootlesskit_py_decimal(value[1], &container_port) < 0 || rootlesskit_py_decimal(value[3], &host_port) < 0 ||
            ipv6 < 0 || strlen(host_ip) > 64 || !rootlesskit_py_json_plain(host_ip) || !rootlesskit_py_json_plain(proto) || *proto == '\0') {
        return;
    }
    if (rk_drop_capabilities() < 0) {
        return;  /* the interpreter tries again and says why it failed */
    }
    char api_proto[64], child_ip[16], real[4096], *reply = malloc(RKPY_PROXY_REPLY_MAX), *body;
    size_t last = strlen(proto) - 1;
    snprintf(api_proto, sizeof api_proto, "%s%s", proto,
             proto[last] == '4' || proto[last] == '6' ? "" : ipv6 ? "6" : "4");
    snprintf(child_ip, sizeof child_ip, "%s", ipv6 ? "::1" : "127.0.0.1");
    if (reply == NULL || strlen(proto) > 32 || rootlesskit_py_look_path(RKPY_REAL_PROXY, real, sizeof real) == NULL ||
            rootlesskit_py_api_call(NULL, "GET", "/v1/info", NULL, reply, &body) < 0 ||
            rootlesskit_py_info_allows(body, api_proto) < 0) {
        free(reply);
        return;
    }
    /* The body: rootlesskit_py/api/schema.py's PortSpec as go_json writes it (every field omitempty). */
    char spec[512], ports[24];
    size_t at = 0;
    snprintf(ports, sizeof ports, "%ld", host_port);
    for (size_t i = 0; i < sizeof rkpy_port_spec / sizeof rkpy_port_spec[0]; i++) {
        char const *field = rkpy_port_spec[i].attr;
        char const *text = strcmp(field, "proto") == 0 ? api_proto : strcmp(field, "parent_ip") == 0 ? host_ip
                           : strcmp(field, "child_ip") == 0 ? child_ip : ports;  /* parent_port, child_port */
        if (rkpy_port_spec[i].is_int ? host_port == 0 : *text == '\0') {
            continue;
        }
        at += (size_t)snprintf(spec + at, sizeof spec - at, rkpy_port_spec[i].is_int ? "%s\"%s\":%s" : "%s\"%s\":\"%s\"",
                               at ? "," : "{", rkpy_port_spec[i].key, text);
    }
    snprintf(spec + at, sizeof spec - at, "%s}", at ? "" : "{");
    long id = rootlesskit_py_api_call(NULL, "POST", "/v1/ports", spec, reply, &body) < 0 ? -1 : rootlesskit_py_status_id(body);
    free(reply);
    if (id < 0) {
        return;  /* refused (the interpreter asks again and reports the message) or not understood */
    }
    /* The real docker-proxy on the child side; it reports readiness on fd 3 itself. */
    char *proxy_argv[] = {RKPY_REAL_PROXY, "-container-ip", (char *)value[0], "-container-port", (char *)value[1],
                          "-host-ip", child_ip, "-host-port", (char *)value[3], "-proto", (char *)proto, NULL};
    int ready = RKPY_PROXY_READY_FD;
    sigset_t interrupt, old;
    sigemptyset(&interrupt);
    sigaddset(&interrupt, SIGINT);
    sigprocmask(SIG_BLOCK, &interrupt, &old);
    int pid = rk_spawn(real, proxy_argv, environ, NULL, 0, &ready, fcntl(ready, F_GETFD) >= 0, 0, 0, -1, -1, -1,
                       SIGKILL);
    if (pid > 0) {
        rootlesskit_py_proxy_wait_for(argv, pid, id);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    (void)rootlesskit_py_remove_port(id);  /* the interpreter starts over and reports the failure */
}
