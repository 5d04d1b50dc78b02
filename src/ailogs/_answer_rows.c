/*
 * Native `stream_rows` for the common line: a JSON object whose service, level
 * and message are plain text (see ailogs/answer_rows.py, which is the reference
 * and serves every line this file leaves alone).
 *
 * A line is checked against JSON's grammar here instead of being decoded: an
 * entry's `fields` is then the line itself, as an `orjson.Fragment` the answer
 * writes verbatim, and the only objects made per line are its entry and row.
 * Decoding every line into a dict only to encode it again was most of what a
 * `/query` answer cost.
 *
 * The check is stricter than JSON: it accepts a line only when orjson decodes
 * it to the same object whatever reads it, and leaves the rest to Python (None
 * in the rows, their indexes listed). Left alone: text wider than Latin-1, a key written with an
 * escape or given twice, an escaped surrogate, a number of more than 18 digits
 * or with an exponent of more than 2 (orjson would round, overflow or flush
 * it), nesting deeper than MAX_DEPTH, a service/level/message that is not plain
 * text, metadata the line does not hold, a timestamp that is not 10 to 19
 * digits. Tests compare both paths on random and hostile lines.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_DEPTH 64
#define MAX_KEYS 128

enum { ACCEPT = 0, DECLINE = 1 };

/* What the scan of a line found at its top level. */
typedef struct {
    Py_ssize_t start, end; /* a string's text inside its quotes; start -1: absent */
    int is_string;          /* a string (else another JSON value) */
    int is_null;
    int escaped;            /* the string holds a backslash */
} Found;

enum { SERVICE, LEVEL, MSG, MESSAGE, TRACKED };
static const char *TRACKED_NAMES[TRACKED] = {"service", "level", "msg", "message"};

typedef struct {
    Py_ssize_t start, end;
} Span;

typedef struct {
    const Py_UCS1 *s;
    Py_ssize_t n, i;
    Span keys[MAX_KEYS];
    int key_count;
    Found found[TRACKED];
} Scan;

/* Bytes that end a plain run inside a string: the quote, the backslash, controls. */
static unsigned char STRING_STOP[256];

static PyObject *KEY_TIMESTAMP, *KEY_SERVICE, *KEY_LEVEL, *KEY_MESSAGE, *KEY_LABELS,
    *KEY_FIELDS, *KEY_STRUCTURED_METADATA;

static void
skip_ws(Scan *sc)
{
    while (sc->i < sc->n) {
        Py_UCS1 c = sc->s[sc->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        sc->i++;
    }
}

static void
write_digits(char *out, int64_t value, int width)
{
    for (int k = width - 1; k >= 0; k--) {
        out[k] = (char)('0' + value % 10);
        value /= 10;
    }
}

static int
hex_value(Py_UCS1 c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* A string at sc->i (its opening quote). Leaves sc->i after the closing quote. */
static int
scan_string(Scan *sc, Py_ssize_t *start, Py_ssize_t *end, int *escaped)
{
    const Py_UCS1 *s = sc->s;
    Py_ssize_t i = sc->i + 1, n = sc->n;
    *start = i;
    *escaped = 0;
    while (i < n) {
#if defined(__SSE2__)
        /* Sixteen plain bytes at a time: no quote, no backslash, nothing below 0x20. */
        const __m128i quote = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\');
        const __m128i control = _mm_set1_epi8(0x1F);
        while (i + 16 <= n) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)(s + i));
            __m128i stop = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(chunk, quote), _mm_cmpeq_epi8(chunk, backslash)),
                _mm_cmpeq_epi8(_mm_min_epu8(chunk, control), chunk));
            int mask = _mm_movemask_epi8(stop);
            if (mask != 0) {
                i += __builtin_ctz((unsigned)mask);
                break;
            }
            i += 16;
        }
#endif
        while (i < n && !STRING_STOP[s[i]]) i++;
        if (i >= n) break;
        Py_UCS1 c = s[i];
        if (c == '"') {
            *end = i;
            sc->i = i + 1;
            return ACCEPT;
        }
        if (c < 0x20) {
            return DECLINE;
        }
        if (c == '\\') {
            *escaped = 1;
            if (i + 1 >= n) return DECLINE;
            c = s[i + 1];
            if (c == 'u') {
                if (i + 5 >= n) return DECLINE;
                int code = 0;
                for (int k = 2; k < 6; k++) {
                    int h = hex_value(s[i + k]);
                    if (h < 0) return DECLINE;
                    code = code * 16 + h;
                }
                if (code >= 0xD800 && code <= 0xDFFF) return DECLINE;
                i += 6;
                continue;
            }
            if (c != '"' && c != '\\' && c != '/' && c != 'b' && c != 'f' && c != 'n' &&
                c != 'r' && c != 't') {
                return DECLINE;
            }
            i += 2;
            continue;
        }
        i++;
    }
    return DECLINE;
}

static int
scan_digits(Scan *sc, int *count)
{
    Py_ssize_t begin = sc->i;
    while (sc->i < sc->n && sc->s[sc->i] >= '0' && sc->s[sc->i] <= '9') sc->i++;
    *count = (int)(sc->i - begin);
    return *count > 0 ? ACCEPT : DECLINE;
}

static int
scan_number(Scan *sc)
{
    int digits, more, exponent;
    if (sc->s[sc->i] == '-') sc->i++;
    if (sc->i >= sc->n) return DECLINE;
    if (sc->s[sc->i] == '0') {
        sc->i++;
        digits = 1;
    }
    else if (scan_digits(sc, &digits) != ACCEPT) {
        return DECLINE;
    }
    if (sc->i < sc->n && sc->s[sc->i] == '.') {
        sc->i++;
        if (scan_digits(sc, &more) != ACCEPT) return DECLINE;
        digits += more;
    }
    if (digits > 18) return DECLINE;
    if (sc->i < sc->n && (sc->s[sc->i] == 'e' || sc->s[sc->i] == 'E')) {
        sc->i++;
        if (sc->i < sc->n && (sc->s[sc->i] == '+' || sc->s[sc->i] == '-')) sc->i++;
        if (scan_digits(sc, &exponent) != ACCEPT || exponent > 2) return DECLINE;
    }
    return ACCEPT;
}

static int
scan_word(Scan *sc, const char *word, Py_ssize_t size)
{
    if (sc->n - sc->i < size || memcmp(sc->s + sc->i, word, size) != 0) return DECLINE;
    sc->i += size;
    return ACCEPT;
}

static int scan_value(Scan *sc, int depth);

/* An object or array at sc->i, its members' values scanned at depth + 1. */
static int
scan_container(Scan *sc, int depth)
{
    Py_UCS1 close = sc->s[sc->i] == '{' ? '}' : ']';
    Py_ssize_t start, end;
    int escaped;
    if (depth >= MAX_DEPTH) return DECLINE;
    sc->i++;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == close) {
        sc->i++;
        return ACCEPT;
    }
    for (;;) {
        if (close == '}') {
            if (sc->i >= sc->n || sc->s[sc->i] != '"') return DECLINE;
            if (scan_string(sc, &start, &end, &escaped) != ACCEPT) return DECLINE;
            skip_ws(sc);
            if (sc->i >= sc->n || sc->s[sc->i] != ':') return DECLINE;
            sc->i++;
            skip_ws(sc);
        }
        if (scan_value(sc, depth + 1) != ACCEPT) return DECLINE;
        skip_ws(sc);
        if (sc->i >= sc->n) return DECLINE;
        if (sc->s[sc->i] == close) {
            sc->i++;
            return ACCEPT;
        }
        if (sc->s[sc->i] != ',') return DECLINE;
        sc->i++;
        skip_ws(sc);
    }
}

static int
scan_value(Scan *sc, int depth)
{
    Py_ssize_t start, end;
    int escaped;
    if (sc->i >= sc->n) return DECLINE;
    switch (sc->s[sc->i]) {
    case '"':
        return scan_string(sc, &start, &end, &escaped);
    case '{':
    case '[':
        return scan_container(sc, depth);
    case 't':
        return scan_word(sc, "true", 4);
    case 'f':
        return scan_word(sc, "false", 5);
    case 'n':
        return scan_word(sc, "null", 4);
    default:
        return scan_number(sc);
    }
}

static int
tracked_index(const Py_UCS1 *key, Py_ssize_t size)
{
    int k;
    switch (size) {
    case 3: k = MSG; break;
    case 5: k = LEVEL; break;
    case 7: k = key[0] == 's' ? SERVICE : MESSAGE; break;
    default: return -1;
    }
    return memcmp(TRACKED_NAMES[k], key, size) == 0 ? k : -1;
}

/* A key's bit in a 64-bit sketch: names given twice share it. */
static uint64_t
key_bit(const Py_UCS1 *key, Py_ssize_t size)
{
    unsigned h = (unsigned)size * 31u;
    if (size > 0) h += key[0] * 7u + key[size - 1] * 3u + key[size / 2];
    return (uint64_t)1 << (h & 63u);
}

/* The top-level object of a whole line: its keys and the tracked values. */
static int
scan_line(Scan *sc)
{
    Py_ssize_t start, end;
    int escaped;
    uint64_t seen = 0;
    for (int k = 0; k < TRACKED; k++) sc->found[k].start = -1;
    sc->key_count = 0;
    sc->i = 0;
    if (sc->n == 0 || sc->s[0] != '{') return DECLINE;
    sc->i = 1;
    skip_ws(sc);
    if (sc->i < sc->n && sc->s[sc->i] == '}') {
        sc->i++;
    }
    else {
        for (;;) {
            if (sc->i >= sc->n || sc->s[sc->i] != '"') return DECLINE;
            if (scan_string(sc, &start, &end, &escaped) != ACCEPT || escaped) return DECLINE;
            Py_ssize_t size = end - start;
            uint64_t bit = key_bit(sc->s + start, size);
            if (seen & bit) {
                for (int k = 0; k < sc->key_count; k++) {
                    Span other = sc->keys[k];
                    if (other.end - other.start == size &&
                        memcmp(sc->s + other.start, sc->s + start, size) == 0) {
                        return DECLINE; /* a name given twice */
                    }
                }
            }
            seen |= bit;
            if (sc->key_count == MAX_KEYS) return DECLINE;
            sc->keys[sc->key_count].start = start;
            sc->keys[sc->key_count].end = end;
            sc->key_count++;
            int tracked = tracked_index(sc->s + start, size);
            skip_ws(sc);
            if (sc->i >= sc->n || sc->s[sc->i] != ':') return DECLINE;
            sc->i++;
            skip_ws(sc);
            if (sc->i >= sc->n) return DECLINE;
            Py_UCS1 first = sc->s[sc->i];
            if (tracked >= 0) {
                Found *f = &sc->found[tracked];
                f->is_string = first == '"';
                f->is_null = first == 'n';
                f->start = sc->i;
                if (f->is_string) {
                    if (scan_string(sc, &f->start, &f->end, &f->escaped) != ACCEPT)
                        return DECLINE;
                }
                else if (scan_value(sc, 1) != ACCEPT) {
                    return DECLINE;
                }
            }
            else if (scan_value(sc, 1) != ACCEPT) {
                return DECLINE;
            }
            skip_ws(sc);
            if (sc->i >= sc->n) return DECLINE;
            if (sc->s[sc->i] == '}') {
                sc->i++;
                break;
            }
            if (sc->s[sc->i] != ',') return DECLINE;
            sc->i++;
            skip_ws(sc);
        }
    }
    skip_ws(sc);
    return sc->i == sc->n ? ACCEPT : DECLINE;
}

static int
has_key(const Scan *sc, PyObject *name)
{
    if (!PyUnicode_CheckExact(name) || PyUnicode_KIND(name) != PyUnicode_1BYTE_KIND) return 0;
    Py_ssize_t size = PyUnicode_GET_LENGTH(name);
    const Py_UCS1 *text = PyUnicode_1BYTE_DATA(name);
    for (int k = 0; k < sc->key_count; k++) {
        if (sc->keys[k].end - sc->keys[k].start == size &&
            memcmp(sc->s + sc->keys[k].start, text, size) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The text of a string value, its escapes decoded. NULL with no error: declined. */
static PyObject *
string_of(PyObject *line, const Scan *sc, const Found *f)
{
    if (!f->escaped) return PyUnicode_Substring(line, f->start, f->end);
    Py_ssize_t size = 0;
    Py_UCS4 *out = PyMem_Malloc(sizeof(Py_UCS4) * (f->end - f->start + 1));
    if (out == NULL) return PyErr_NoMemory();
    for (Py_ssize_t i = f->start; i < f->end;) {
        Py_UCS1 c = sc->s[i];
        if (c != '\\') {
            out[size++] = c;
            i++;
            continue;
        }
        c = sc->s[i + 1];
        i += 2;
        switch (c) {
        case 'b': out[size++] = '\b'; break;
        case 'f': out[size++] = '\f'; break;
        case 'n': out[size++] = '\n'; break;
        case 'r': out[size++] = '\r'; break;
        case 't': out[size++] = '\t'; break;
        case 'u': {
            Py_UCS4 code = 0;
            for (int k = 0; k < 4; k++) code = code * 16 + (Py_UCS4)hex_value(sc->s[i + k]);
            out[size++] = code;
            i += 4;
            break;
        }
        default: out[size++] = c; /* " \ / */
        }
    }
    PyObject *text = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, out, size);
    PyMem_Free(out);
    return text;
}

/* A plain text value that is not empty, or NULL with no error (declined). */
static PyObject *
plain_text(PyObject *line, const Scan *sc, const Found *f)
{
    if (f->start < 0 || !f->is_string || f->escaped || f->end == f->start) return NULL;
    return PyUnicode_Substring(line, f->start, f->end);
}

/* ASCII text lowered, or NULL with no error when it is not ASCII. */
static PyObject *
ascii_lower(PyObject *text)
{
    if (!PyUnicode_IS_ASCII(text)) return NULL;
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    const Py_UCS1 *from = PyUnicode_1BYTE_DATA(text);
    PyObject *lowered = PyUnicode_New(size, 127);
    if (lowered == NULL) return NULL;
    Py_UCS1 *to = PyUnicode_1BYTE_DATA(lowered);
    for (Py_ssize_t i = 0; i < size; i++) {
        Py_UCS1 c = from[i];
        to[i] = (c >= 'A' && c <= 'Z') ? (Py_UCS1)(c + 32) : c;
    }
    return lowered;
}

/* RFC 3339 text of nanoseconds since the epoch, from the civil date of the day. */
static void
format_stamp(int64_t ns, char out[40])
{
    int64_t seconds = ns / 1000000000, nanos = ns % 1000000000;
    int64_t days = seconds / 86400, rest = seconds % 86400;
    /* Howard Hinnant's civil_from_days. */
    int64_t z = days + 719468;
    int64_t era = z / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t year = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int64_t day = doy - (153 * mp + 2) / 5 + 1;
    int64_t month = mp < 10 ? mp + 3 : mp - 9;
    year += month <= 2;
    /* YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ */
    memcpy(out, "0000-00-00T00:00:00.000000000Z", 31);
    write_digits(out, year, 4);
    write_digits(out + 5, month, 2);
    write_digits(out + 8, day, 2);
    write_digits(out + 11, rest / 3600, 2);
    write_digits(out + 14, rest / 60 % 60, 2);
    write_digits(out + 17, rest % 60, 2);
    write_digits(out + 20, nanos, 9);
}

/* Nanoseconds from 10 to 19 decimal digits (at least one second), or -1. */
static int64_t
timestamp_of(PyObject *text)
{
    if (!PyUnicode_CheckExact(text) || !PyUnicode_IS_ASCII(text)) return -1;
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    const Py_UCS1 *digits = PyUnicode_1BYTE_DATA(text);
    if (size < 10 || size > 19 || digits[0] == '0') return -1;
    uint64_t value = 0;
    for (Py_ssize_t i = 0; i < size; i++) {
        if (digits[i] < '0' || digits[i] > '9') return -1;
        value = value * 10 + (uint64_t)(digits[i] - '0');
    }
    return value > (uint64_t)INT64_MAX ? -1 : (int64_t)value;
}

typedef struct {
    PyObject *labels, *shown_labels, *service_label, *level_label, *fragment;
    int64_t second;        /* of `prefix`; -1: none yet */
    char prefix[40];
} Stream;

/* The row of one value, NULL with no error when it is left to Python. */
static PyObject *
row_of(Stream *st, PyObject *value)
{
    if (!PyList_CheckExact(value)) return NULL;
    Py_ssize_t size = PyList_GET_SIZE(value);
    if (size != 2 && size != 3) return NULL;
    int64_t ns = timestamp_of(PyList_GET_ITEM(value, 0));
    PyObject *line = PyList_GET_ITEM(value, 1);
    if (ns < 0 || !PyUnicode_CheckExact(line) || PyUnicode_KIND(line) != PyUnicode_1BYTE_KIND)
        return NULL;
    PyObject *metadata = NULL;
    if (size == 3) {
        PyObject *extra = PyList_GET_ITEM(value, 2);
        if (!PyDict_CheckExact(extra)) return NULL;
        metadata = PyDict_GetItemWithError(extra, KEY_STRUCTURED_METADATA);
        if (metadata == NULL && PyErr_Occurred()) return NULL;
        if (metadata == Py_None) metadata = NULL;
        if (metadata != NULL && !PyDict_CheckExact(metadata)) return NULL;
        if (metadata != NULL && PyDict_GET_SIZE(metadata) == 0) metadata = NULL;
    }
    Scan sc;
    sc.s = PyUnicode_1BYTE_DATA(line);
    sc.n = PyUnicode_GET_LENGTH(line);
    if (scan_line(&sc) != ACCEPT) return NULL;
    if (metadata != NULL) {
        PyObject *name, *ignored;
        Py_ssize_t pos = 0;
        while (PyDict_Next(metadata, &pos, &name, &ignored)) {
            if (!has_key(&sc, name)) return NULL; /* fields would merge it */
        }
    }

    PyObject *service = NULL, *level = NULL, *message = NULL, *fields = NULL;
    PyObject *entry = NULL, *stamp = NULL, *timestamp = NULL, *row = NULL;
    if (st->service_label != Py_None) {
        service = Py_NewRef(st->service_label);
    }
    else if ((service = plain_text(line, &sc, &sc.found[SERVICE])) == NULL) {
        goto done;
    }
    if (st->level_label != Py_None) {
        level = Py_NewRef(st->level_label);
    }
    else {
        PyObject *raw = plain_text(line, &sc, &sc.found[LEVEL]);
        if (raw == NULL) goto done;
        level = ascii_lower(raw);
        Py_DECREF(raw);
        if (level == NULL) goto done;
    }
    /* msg, unless absent, null or empty; then message, unless absent or null; then the line. */
    const Found *msg = &sc.found[MSG], *alt = &sc.found[MESSAGE];
    const Found *chosen = msg;
    if (msg->start < 0 || msg->is_null || (msg->is_string && msg->end == msg->start)) {
        chosen = alt;
        if (alt->start < 0 || alt->is_null) chosen = NULL;
    }
    if (chosen == NULL) {
        message = Py_NewRef(line);
    }
    else {
        if (!chosen->is_string) goto done;
        if (chosen->end == chosen->start) {
            message = Py_NewRef(line); /* `message or line` */
        }
        else if ((message = string_of(line, &sc, chosen)) == NULL) {
            goto done;
        }
    }
    if ((fields = PyObject_CallOneArg(st->fragment, line)) == NULL) goto done;
    int64_t second = ns / 1000000000;
    if (second != st->second) {
        format_stamp(ns, st->prefix);
        st->second = second;
    }
    else {
        write_digits(st->prefix + 20, ns % 1000000000, 9);
    }
    if ((stamp = PyUnicode_New(30, 127)) == NULL) goto done;
    memcpy(PyUnicode_1BYTE_DATA(stamp), st->prefix, 30);
    if ((entry = _PyDict_NewPresized(6)) == NULL) goto done;
    if (PyDict_SetItem(entry, KEY_TIMESTAMP, stamp) < 0 ||
        PyDict_SetItem(entry, KEY_SERVICE, service) < 0 ||
        PyDict_SetItem(entry, KEY_LEVEL, level) < 0 ||
        PyDict_SetItem(entry, KEY_MESSAGE, message) < 0 ||
        PyDict_SetItem(entry, KEY_LABELS, st->shown_labels) < 0 ||
        PyDict_SetItem(entry, KEY_FIELDS, fields) < 0) {
        goto done;
    }
    if ((timestamp = PyLong_FromLongLong(ns)) == NULL) goto done;
    row = PyTuple_Pack(5, timestamp, line, metadata != NULL ? metadata : Py_None, entry,
                       st->labels);
done:
    Py_XDECREF(service);
    Py_XDECREF(level);
    Py_XDECREF(message);
    Py_XDECREF(fields);
    Py_XDECREF(stamp);
    Py_XDECREF(entry);
    Py_XDECREF(timestamp);
    return row;
}

static PyObject *
json_rows(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "json_rows takes 6 arguments");
        return NULL;
    }
    PyObject *values = args[0];
    Stream st = {args[1], args[2], args[3], args[4], args[5], -1, {0}};
    if (!PyList_CheckExact(values)) {
        PyErr_SetString(PyExc_TypeError, "values must be a list");
        return NULL;
    }
    if ((st.service_label != Py_None && !PyUnicode_CheckExact(st.service_label)) ||
        (st.level_label != Py_None && !PyUnicode_CheckExact(st.level_label))) {
        PyErr_SetString(PyExc_TypeError, "labels must be str or None");
        return NULL;
    }
    Py_ssize_t count = PyList_GET_SIZE(values);
    PyObject *rows = PyList_New(count), *left = PyList_New(0);
    if (rows == NULL || left == NULL) goto fail;
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *row = row_of(&st, PyList_GET_ITEM(values, i));
        if (row == NULL) {
            if (PyErr_Occurred()) goto fail;
            PyObject *index = PyLong_FromSsize_t(i);
            if (index == NULL || PyList_Append(left, index) < 0) {
                Py_XDECREF(index);
                goto fail;
            }
            Py_DECREF(index);
            row = Py_NewRef(Py_None);
        }
        PyList_SET_ITEM(rows, i, row);
    }
    PyObject *result = PyTuple_Pack(2, rows, left);
    Py_DECREF(rows);
    Py_DECREF(left);
    return result;
fail:
    Py_XDECREF(rows);
    Py_XDECREF(left);
    return NULL;
}

static PyObject *
json_object(PyObject *self, PyObject *line)
{
    if (!PyUnicode_CheckExact(line)) {
        PyErr_SetString(PyExc_TypeError, "line must be str");
        return NULL;
    }
    if (PyUnicode_KIND(line) != PyUnicode_1BYTE_KIND) Py_RETURN_FALSE;
    Scan sc;
    sc.s = PyUnicode_1BYTE_DATA(line);
    sc.n = PyUnicode_GET_LENGTH(line);
    return PyBool_FromLong(scan_line(&sc) == ACCEPT);
}

static PyMethodDef methods[] = {
    {"json_rows", (PyCFunction)(void (*)(void))json_rows, METH_FASTCALL,
     "json_rows(values, labels, shown_labels, service_label, level_label, fragment)\n--\n\n"
     "(rows, left): the row of each value that is a common JSON line, None for the\n"
     "others, and the indexes of those."},
    {"json_object", json_object, METH_O,
     "json_object(line)\n--\n\nTrue when the line is a JSON object json_rows would take."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ailogs._answer_rows",
    .m_doc = "Native answer rows for common JSON lines (see ailogs.answer_rows).",
    .m_size = 0,
    .m_methods = methods,
};

static PyObject *
intern(const char *text)
{
    return PyUnicode_InternFromString(text);
}

PyMODINIT_FUNC
PyInit__answer_rows(void)
{
    for (int c = 0; c < 256; c++) STRING_STOP[c] = c == '"' || c == '\\' || c < 0x20;
    if ((KEY_TIMESTAMP = intern("timestamp")) == NULL || (KEY_SERVICE = intern("service")) == NULL ||
        (KEY_LEVEL = intern("level")) == NULL || (KEY_MESSAGE = intern("message")) == NULL ||
        (KEY_LABELS = intern("labels")) == NULL || (KEY_FIELDS = intern("fields")) == NULL ||
        (KEY_STRUCTURED_METADATA = intern("structuredMetadata")) == NULL) {
        return NULL;
    }
    return PyModule_Create(&module);
}
