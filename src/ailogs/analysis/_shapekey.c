/*
 * Native `shape_keys`: the same keys as `masking.shape_key`, built in one C
 * pass per rule instead of a chain of bytes.replace and regex substitutions
 * over Python objects. Folding the keys is most of what mining a line costs
 * once its shape is cached, so this is where mining throughput is decided.
 *
 * The Python functions in `masking` are the reference: tests compare both on
 * ugly and random input, so any rule changed there must change here too.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* Mirrors masking.MAX_MINED_CHARS. */
#define MAX_MINED_CHARS 4096

static const char MONTHS[] = "JanFebMarAprMayJunJulAugSepOctNovDec";
static const char WEEKDAYS[] = "MonTueWedThuFriSatSun";

/* Character classes, indexed by byte. */
static unsigned char HEX_TAIL[256];    /* [0-9a-fA-Fx]: what a digit run swallows */
static unsigned char PATH_SEGMENT[256]; /* [A-Za-z0-9_.%+~-] */
static unsigned char PATH_REST[256];    /* PATH_SEGMENT and `/` */
static unsigned char BARE_SEGMENT[256]; /* PATH_SEGMENT without digits */
static unsigned char BARE_REST[256];    /* BARE_SEGMENT and `/` */

static void
init_classes(void)
{
    for (int c = 0; c < 256; c++) {
        int digit = c >= '0' && c <= '9';
        int alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
        int hex = (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        int bare = alpha || c == '_' || c == '.' || c == '%' || c == '+' || c == '~' || c == '-';
        HEX_TAIL[c] = digit || hex || c == 'x';
        BARE_SEGMENT[c] = bare;
        BARE_REST[c] = bare || c == '/';
        PATH_SEGMENT[c] = bare || digit;
        PATH_REST[c] = bare || digit || c == '/';
    }
}

static int
is_word_of(const char *words, size_t count, const unsigned char *p, Py_ssize_t avail)
{
    if (avail < 3) {
        return 0;
    }
    for (size_t i = 0; i < count; i++) {
        if (memcmp(p, words + 3 * i, 3) == 0) {
            return 1;
        }
    }
    return 0;
}

/*
 * Digits become one `0` with the hex digits and `x` that follow them:
 * `translate` to `0`, then the run replacements and _HEX_RUN.
 */
static Py_ssize_t
fold_digits(const unsigned char *in, Py_ssize_t n, unsigned char *out)
{
    Py_ssize_t i = 0, j = 0;
    while (i < n) {
        unsigned char c = in[i++];
        if (c >= '0' && c <= '9') {
            out[j++] = '0';
            while (i < n && HEX_TAIL[in[i]]) {
                i++;
            }
        }
        else {
            out[j++] = c;
        }
    }
    return j;
}

/*
 * A syslog or Apache date right after a newline (optionally after `[`):
 * _LEADING_DATE and _LEADING_BRACKETED_DATE, an optional weekday and one
 * space, a month, then spaces, all become `Jan `.
 */
static Py_ssize_t
fold_dates(const unsigned char *in, Py_ssize_t n, unsigned char *out)
{
    Py_ssize_t i = 0, j = 0;
    while (i < n) {
        unsigned char c = in[i];
        if (c == '\n') {
            Py_ssize_t k = i + 1;
            int bracket = k < n && in[k] == '[';
            k += bracket;
            Py_ssize_t month = -1;
            if (is_word_of(WEEKDAYS, 7, in + k, n - k) && k + 3 < n && in[k + 3] == ' ' &&
                is_word_of(MONTHS, 12, in + k + 4, n - k - 4)) {
                month = k + 4;
            }
            else if (is_word_of(MONTHS, 12, in + k, n - k)) {
                month = k;
            }
            if (month >= 0 && month + 3 < n && in[month + 3] == ' ') {
                Py_ssize_t end = month + 4;
                while (end < n && in[end] == ' ') {
                    end++;
                }
                out[j++] = '\n';
                if (bracket) {
                    out[j++] = '[';
                }
                memcpy(out + j, "Jan ", 4);
                j += 4;
                i = end;
                continue;
            }
        }
        out[j++] = c;
        i++;
    }
    return j;
}

/*
 * A whole path token after a space: `/segment/` and more, up to a space, a
 * newline or the end (_PATH_TOKEN, to ` /0/`), or, with `colon`, a digitless
 * one ended by `:` before a space, a newline or the end (_PATH_COLON_TOKEN,
 * to ` /_/`).
 */
static Py_ssize_t
fold_paths(const unsigned char *in, Py_ssize_t n, unsigned char *out, int colon)
{
    const unsigned char *segment = colon ? BARE_SEGMENT : PATH_SEGMENT;
    const unsigned char *rest = colon ? BARE_REST : PATH_REST;
    const char *replacement = colon ? " /_/" : " /0/";
    Py_ssize_t i = 0, j = 0;
    while (i < n) {
        if (in[i] == ' ' && i + 1 < n && in[i + 1] == '/') {
            Py_ssize_t k = i + 2;
            while (k < n && segment[in[k]]) {
                k++;
            }
            if (k > i + 2 && k < n && in[k] == '/') {
                k++;
                while (k < n && rest[in[k]]) {
                    k++;
                }
                int ends;
                if (colon) {
                    ends = k < n && in[k] == ':' &&
                           (k + 1 == n || in[k + 1] == ' ' || in[k + 1] == '\n');
                }
                else {
                    ends = k == n || in[k] == ' ' || in[k] == '\n';
                }
                if (ends) {
                    memcpy(out + j, replacement, 4);
                    j += 4;
                    i = k;
                    continue;
                }
            }
        }
        out[j++] = in[i++];
    }
    return j;
}

static int
has_space_slash(const unsigned char *p, Py_ssize_t n)
{
    for (Py_ssize_t i = 0; i + 1 < n; i++) {
        if (p[i] == ' ' && p[i + 1] == '/') {
            return 1;
        }
    }
    return 0;
}

/* Lines up to this many bytes are folded in buffers on the stack. */
#define STACK_BYTES 2048

static Py_ssize_t
fold(unsigned char *a, unsigned char *b, Py_ssize_t n)
{
    /* `b` holds the line led by a newline; the key ends up in `b` too. */
    Py_ssize_t len = fold_digits(b, n, a);
    len = fold_dates(a, len, b);
    if (has_space_slash(b, len)) {
        len = fold_paths(b, len, a, 0);
        len = fold_paths(a, len, b, 1);
    }
    return len;
}

/* The key of one line's UTF-8 bytes. */
static PyObject *
key_of(const unsigned char *text, Py_ssize_t n)
{
    unsigned char stack_a[STACK_BYTES], stack_b[STACK_BYTES];
    unsigned char *a = stack_a, *b = stack_b;
    if (n + 1 > STACK_BYTES) {
        a = PyMem_Malloc((size_t)n + 1);
        b = PyMem_Malloc((size_t)n + 1);
        if (a == NULL || b == NULL) {
            PyMem_Free(a);
            PyMem_Free(b);
            return PyErr_NoMemory();
        }
    }
    /* Each line is folded led by a newline, as in the joined batch. */
    b[0] = '\n';
    memcpy(b + 1, text, (size_t)n);
    Py_ssize_t len = fold(a, b, n + 1);
    PyObject *key = PyBytes_FromStringAndSize((const char *)b + 1, len - 1);
    if (a != stack_a) {
        PyMem_Free(a);
        PyMem_Free(b);
    }
    return key;
}

static PyObject *
shape_keys(PyObject *module, PyObject *lines)
{
    (void)module;
    PyObject *seq = PySequence_Fast(lines, "shape_keys() takes a sequence of str");
    if (seq == NULL) {
        return NULL;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *keys = PyList_New(count);
    if (keys == NULL) {
        goto fail;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *line = items[i];
        if (!PyUnicode_Check(line)) {
            PyErr_Format(PyExc_TypeError, "shape_keys() lines must be str, not %.100s",
                         Py_TYPE(line)->tp_name);
            goto fail;
        }
        Py_ssize_t chars = PyUnicode_GET_LENGTH(line);
        PyObject *key;
        if (PyUnicode_IS_COMPACT_ASCII(line)) {
            Py_ssize_t n = chars < MAX_MINED_CHARS ? chars : MAX_MINED_CHARS;
            key = key_of(PyUnicode_1BYTE_DATA(line), n);
        }
        else {
            PyObject *head = chars > MAX_MINED_CHARS
                                 ? PyUnicode_Substring(line, 0, MAX_MINED_CHARS)
                                 : Py_NewRef(line);
            if (head == NULL) {
                goto fail;
            }
            PyObject *encoded = PyUnicode_AsEncodedString(head, "utf-8", "surrogatepass");
            Py_DECREF(head);
            if (encoded == NULL) {
                goto fail;
            }
            key = key_of((const unsigned char *)PyBytes_AS_STRING(encoded),
                         PyBytes_GET_SIZE(encoded));
            Py_DECREF(encoded);
        }
        if (key == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(keys, i, key);
    }
    Py_DECREF(seq);
    return keys;
fail:
    Py_XDECREF(keys);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef methods[] = {
    {"shape_keys", shape_keys, METH_O,
     "shape_keys(lines)\n--\n\nThe shape key of every line, as masking.shape_key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ailogs.analysis._shapekey",
    .m_doc = "Native shape keys for template mining (see ailogs.analysis.masking).",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__shapekey(void)
{
    init_classes();
    return PyModule_Create(&module);
}
