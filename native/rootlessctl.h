/* `rootlessctl list-ports` without the interpreter: one `GET /v1/ports` and upstream's table.
 *
 * Why: scripts run it in loops, and an interpreter start made it 3.9x slower than Go's rootlessctl
 * (11 ms against 3 ms, BENCHMARKS.md), nearly all of it before the first byte was sent.
 *
 * How: included by native/fixed_answers.h after native/docker_proxy.h, whose HTTP client and JSON
 * reader it uses. The columns (heading, key, where the key is, whether it is an integer, what a
 * missing key shows) and the tabwriter's minwidth and padding are rootlesskit_py/cli/rootlessctl.py's
 * PORT_TABLE, which build.py puts in front of these files, so the table is defined once.
 * Only the plain case is answered here: `list-ports` with no flag of its own and at most
 * `--socket PATH` or `--socket=PATH` before it (else $ROOTLESSKIT_STATE_DIR/api.sock), a 2xx answer
 * whose head the client reads plainly, and a body that is a JSON array of objects holding only the
 * table's keys, with integers written plainly (no sign, fraction or exponent) and strings of
 * printable ASCII without escapes: there, what Python's json reads is the text itself, and a cell's
 * width is its length. Anything else goes on to the interpreter, which asks again (a GET changes
 * nothing) and answers, or words the error, as it always does. */

#define RKPY_PORT_COLUMNS (sizeof rkpy_port_table / sizeof rkpy_port_table[0])

struct rootlesskit_py_cell {
    char const *text;
    size_t size;
};

/* An integer as Python's json reads and str() writes it back: 0, or digits without a leading 0. */
static int rootlesskit_py_json_plain_integer(struct rootlesskit_py_json *j, struct rootlesskit_py_cell *cell) {
    size_t size = strspn(j->at, "0123456789");
    char after = j->at[size];
    if (size == 0 || (j->at[0] == '0' && size > 1) || after == '.' || after == 'e' || after == 'E') {
        return -1;
    }
    cell->text = j->at;
    cell->size = size;
    j->at += size;
    return 0;
}

/* A string that is its own text: printable ASCII, no escape. */
static int rootlesskit_py_json_plain_text(struct rootlesskit_py_json *j, struct rootlesskit_py_cell *cell) {
    if (rootlesskit_py_json_string(j, &cell->text, &cell->size) != 0) {
        return -1;
    }
    for (size_t i = 0; i < cell->size; i++) {
        if ((unsigned char)cell->text[i] >= 0x7f) {  /* below 0x20 the reader refused already */
            return -1;
        }
    }
    return 0;
}

/* The cells of the columns with this `in_spec` as the Python table shows a missing key. */
static void rootlesskit_py_port_defaults(struct rootlesskit_py_cell *row, int in_spec) {
    for (size_t c = 0; c < RKPY_PORT_COLUMNS; c++) {
        if (rkpy_port_table[c].in_spec == in_spec) {
            row[c] = (struct rootlesskit_py_cell){ rkpy_port_table[c].missing, strlen(rkpy_port_table[c].missing) };
        }
    }
}

/* The members of the object at j->at that are columns with this `in_spec`, each into row[column];
 * 0, or -1 for any other key, a value of another kind or JSON Python would refuse. */
static int rootlesskit_py_port_cells(struct rootlesskit_py_json *j, int in_spec, struct rootlesskit_py_cell *row);

static int rootlesskit_py_port_member(struct rootlesskit_py_json *j, char const *key, size_t size, int in_spec,
                                      struct rootlesskit_py_cell *row) {
    if (!in_spec && rootlesskit_py_json_is(key, size, "spec")) {
        rootlesskit_py_port_defaults(row, 1);  /* a repeated spec replaces the whole of the last one */
        return rootlesskit_py_port_cells(j, 1, row);
    }
    for (size_t c = 0; c < RKPY_PORT_COLUMNS; c++) {
        if (rkpy_port_table[c].in_spec == in_spec && rootlesskit_py_json_is(key, size, rkpy_port_table[c].key)) {
            return rkpy_port_table[c].is_int ? rootlesskit_py_json_plain_integer(j, &row[c])
                                             : rootlesskit_py_json_plain_text(j, &row[c]);
        }
    }
    return -1;
}

static int rootlesskit_py_port_cells(struct rootlesskit_py_json *j, int in_spec, struct rootlesskit_py_cell *row) {
    char const *key;
    size_t size;
    int member;
    if (rootlesskit_py_json_open(j) < 0) {
        return -1;
    }
    while ((member = rootlesskit_py_json_member(j, &key, &size)) == 1) {
        if (rootlesskit_py_port_member(j, key, size, in_spec, row) < 0) {
            return -1;
        }
    }
    return member;
}

/* The rows of the `[]port.Status` in `body` (its `length` bytes), the headings first, into `cells`
 * (room for 1 + length / 2 rows: each status takes at least `{}`). Returns the number of rows, or
 * -1 for anything not read as plainly as the header comment says. */
static long rootlesskit_py_port_rows(char const *body, long length, struct rootlesskit_py_cell *cells) {
    struct rootlesskit_py_json j = { .at = body };
    long rows = 1;
    for (size_t c = 0; c < RKPY_PORT_COLUMNS; c++) {
        cells[c] = (struct rootlesskit_py_cell){ rkpy_port_table[c].heading, strlen(rkpy_port_table[c].heading) };
    }
    rootlesskit_py_json_space(&j);
    if (*j.at++ != '[') {
        return -1;
    }
    rootlesskit_py_json_space(&j);
    while (*j.at != ']') {
        struct rootlesskit_py_cell *row = &cells[rows++ * RKPY_PORT_COLUMNS];
        rootlesskit_py_port_defaults(row, 0);
        rootlesskit_py_port_defaults(row, 1);
        if (rootlesskit_py_port_cells(&j, 0, row) != 0) {
            return -1;
        }
        rootlesskit_py_json_space(&j);
        if (*j.at == ',') {
            j.at++;
            rootlesskit_py_json_space(&j);
            if (*j.at == ']') {
                return -1;
            }
        } else if (*j.at != ']') {
            return -1;
        }
    }
    j.at++;
    rootlesskit_py_json_space(&j);
    return j.at == body + length ? rows : -1;
}

/* Go's text/tabwriter (pad character ' ', no flags) on rows whose every cell ends with a tab: one
 * column block per column, as wide as its widest cell plus the padding, at least the minwidth. */
static char *rootlesskit_py_tabwrite(struct rootlesskit_py_cell const *cells, long rows, size_t *size) {
    size_t width[RKPY_PORT_COLUMNS], line = 1;
    for (size_t c = 0; c < RKPY_PORT_COLUMNS; c++) {
        width[c] = RKPY_PORT_TABLE_MINWIDTH;
        for (long r = 0; r < rows; r++) {
            size_t w = cells[r * RKPY_PORT_COLUMNS + c].size + RKPY_PORT_TABLE_PADDING;
            width[c] = w > width[c] ? w : width[c];
        }
        line += width[c];
    }
    char *out = malloc(line * (size_t)rows), *at = out;
    if (out == NULL) {
        return NULL;
    }
    for (long r = 0; r < rows; r++) {
        for (size_t c = 0; c < RKPY_PORT_COLUMNS; c++) {
            struct rootlesskit_py_cell const *cell = &cells[r * RKPY_PORT_COLUMNS + c];
            memcpy(at, cell->text, cell->size);
            memset(at + cell->size, ' ', width[c] - cell->size);
            at += width[c];
        }
        *at++ = '\n';
    }
    *size = (size_t)(at - out);
    return out;
}

/* `rootlessctl [--socket PATH | --socket=PATH] list-ports`: prints the table and exits 0, or returns
 * with nothing written for the interpreter to do it. */
static void rootlesskit_py_list_ports(int argc, char **argv) {
    char const *socket_path = NULL;
    if (argc == 4 && strcmp(argv[1], "--socket") == 0 && *argv[2] != '\0') {
        socket_path = argv[2];
    } else if (argc == 3 && strncmp(argv[1], "--socket=", 9) == 0 && argv[1][9] != '\0') {
        socket_path = argv[1] + 9;
    } else if (argc != 2) {
        return;
    }
    if (strcmp(argv[argc - 1], "list-ports") != 0 || rk_drop_capabilities() < 0) {
        return;
    }
    char *reply = malloc(RKPY_PROXY_REPLY_MAX), *body, *table = NULL;
    long length = reply == NULL ? -1 : rootlesskit_py_api_call(socket_path, "GET", "/v1/ports", NULL, reply, &body);
    struct rootlesskit_py_cell *cells = length < 0 ? NULL : calloc((size_t)(2 + length / 2) * RKPY_PORT_COLUMNS,
                                                                    sizeof *cells);
    long rows = cells == NULL ? -1 : rootlesskit_py_port_rows(body, length, cells);
    size_t size = 0;
    if (rows > 0) {
        table = rootlesskit_py_tabwrite(cells, rows, &size);
    }
    if (table != NULL && rootlesskit_py_write_all(STDOUT_FILENO, table, size) == 0) {
        _exit(0);
    }  /* a write that failed: the interpreter tries, and reports the failure, as after a fixed answer */
    free(table);
    free(cells);
    free(reply);
}
