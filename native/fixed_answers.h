/* `--version` and `--help` answered before the interpreter starts, and rootlesskit-docker-proxy's
 * start and wait and `rootlessctl list-ports` done without it (native/docker_proxy.h and
 * native/rootlessctl.h, which build.py puts in front of this file).
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
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>


static int rootlesskit_py_lxc_variant(void) {
    struct stat st;
    for (int i = 0; i < RKPY_LXC_PATHS; i++) {
        if (stat(rkpy_lxc_paths[i], &st) == 0) {
            return i;
        }
    }
    return RKPY_LXC_PATHS;
}

static void rootlesskit_py_answer(int argc, char **argv) {
    if (argc < 1) {
        return;
    }
    rootlesskit_py_proxy_wait(argv);  /* returns unless our own exec set the phase to "wait" */
    char const *slash = strrchr(argv[0], '/');
    char const *program = slash ? slash + 1 : argv[0];
    if (strcmp(program, RKPY_PROXY_PROGRAM) == 0 && getenv(RKPY_ENV_PROXY_PHASE) == NULL) {
        rootlesskit_py_proxy_start(argc, argv);  /* returns for what the interpreter must do */
        return;
    }
    if (strcmp(program, RKPY_CTL_PROGRAM) == 0) {
        rootlesskit_py_list_ports(argc, argv);  /* returns for what the interpreter must do */
    }
    if (argc != 2) {
        return;
    }
    for (size_t i = 0; i < sizeof rkpy_answers / sizeof rkpy_answers[0]; i++) {
        struct rkpy_answer const *answer = &rkpy_answers[i];
        if (strcmp(program, answer->program) != 0 || strcmp(argv[1], answer->arg) != 0) {
            continue;
        }
        if (answer->drops_capabilities && rk_drop_capabilities() < 0) {
            return; /* the interpreter tries again and says why it failed */
        }
        struct rkpy_text const *text = &answer->by_lxc_path[answer->lxc_dependent ? rootlesskit_py_lxc_variant() : 0];
        if (rootlesskit_py_write_all(STDOUT_FILENO, text->bytes, text->size) == 0) {
            _exit(0);
        }
        return;
    }
}
