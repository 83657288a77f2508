/*
 * The hot loop of fleet_tui.core.terminal.Terminal.feed(), in C.
 *
 * terminal.py is the reference: this file only makes the common tokens
 * cheaper and must leave exactly the state the Python code would.  It keeps
 * no state of its own: it reads and writes the Terminal's own attributes (its
 * instance __dict__) and rows (_Row objects holding Python lists), and calls
 * the Terminal's Python methods for everything it does not do itself.
 *
 *   scan(term, data, pos) -> int
 *
 * consumes whole tokens of `data` from `pos` (the same tokens terminal._TOKEN
 * finds) and returns where it stopped: at the end of the data, or at the
 * first token it leaves to Python (escape sequences other than CSI, a CSI
 * cut off by the end of the data, anything malformed).  Python then handles
 * that one token with the regex and calls scan() again.
 *
 * Done here:                     Called in Python from here:
 *   ASCII text that fits the row   other text           -> term._draw(text)
 *   CR, LF, VT, FF                 scrolling            -> term._scroll_up()
 *   SGR with plain number params   other controls       -> term._control(ch)
 *   CUP, CUU/CUD/CUF/CUB, CHA, VPA other CSI            -> term._csi(params, inter, final)
 *                                  a style not yet interned -> term._pen() / term._intern()
 *
 *   encode(row, styles) -> list of runs
 *
 * is Terminal._encode(): a row's cells as the runs clients get (see there).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#ifndef FASTTERM_SOURCE
#define FASTTERM_SOURCE "unknown"
#endif
#include <structmember.h>  /* T_OBJECT_EX: how __slots__ fields are stored */

/* Interned attribute and method names. */
static PyObject *s_cursor_x, *s_cursor_y, *s_wrap_pending, *s_insert, *s_graphics,
    *s_cols, *s_rows, *s_top, *s_bottom, *s_origin, *s_lines, *s_style, *s_style_ids,
    *s_fg, *s_bg, *s_attrs, *s_blank, *s_last_char, *s_all_dirty, *s_dirty,
    *s_chars, *s_styles, *s_used, *s_runs,
    *s_primary, *s_scrollback, *s_history, *s_pushed, *s_lines_of_history, *s_wrapped,
    *s_mode_app_cursor, *s_mode_app_keypad, *s_mode_focus, *s_mode_mouse_sgr,
    *s_mode_bracketed_paste, *s_mode_sync,
    *s_append, *s_styles_table, *s_modes, *s_cursor_visible, *s_autowrap,
    *s_draw, *s_scroll_up, *s_control, *s_csi, *s_pen, *s_intern, *s_push_history, *s_set_mode;
/* From terminal.py (setup()): characters known to be one cell wide, and the
 * default style tuple history lines share. */
static PyObject *latin1[256];  /* the one-character strings U+0000..U+00FF */
#define CHAR_CACHE 1024
static PyObject *char_cache[CHAR_CACHE];  /* recent others, by code point modulo its size */
static PyObject *narrow_chars, *default_style, *module_globals, *s_max_styles, *s_char_width, *s_draw_wide;
static PyObject *other_widths;  /* char_width() of the characters not narrow, by character */
static PyObject *empty_str;  /* the right half of a wide character */

/* SGR codes below 30 that switch attributes on / off (from terminal.py). */
#define SGR_TABLE 30
static long attr_on[SGR_TABLE], attr_off[SGR_TABLE];

#define MAX_PARAMS 32        /* more parameters than this: left to Python */
#define MAX_DIGITS 9         /* terminal.py reads at most 9 digits of a number */

/* ---------------------------------------------------- attribute access */

/* A borrowed reference to term.<key>, or NULL with an exception set. */
static PyObject *
get(PyObject *d, PyObject *key)
{
    PyObject *v = PyDict_GetItemWithError(d, key);
    if (v == NULL && !PyErr_Occurred())
        PyErr_Format(PyExc_AttributeError, "Terminal has no attribute %R", key);
    return v;
}

/* The scalar attributes read and written on every token (cursor, flags,
 * sizes) are kept in C while scan() runs and written back to the Terminal
 * before any Python code runs (flush) and when scan() returns, so Python
 * always sees them current.  Other attributes are read and written directly. */
enum { C_X, C_Y, C_WRAP, C_COLS, C_ROWS, C_TOP, C_BOTTOM, C_INSERT, C_GRAPHICS, C_ORIGIN,
       C_ALL_DIRTY, C_COUNT };
static PyObject **cache_keys[C_COUNT] = {
    &s_cursor_x, &s_cursor_y, &s_wrap_pending, &s_cols, &s_rows, &s_top, &s_bottom, &s_insert,
    &s_graphics, &s_origin, &s_all_dirty,
};
static const char cache_is_bool[C_COUNT] = {0, 0, 1, 0, 0, 0, 0, 1, 1, 1, 1};
static struct {
    PyObject *d;             /* the Terminal's __dict__ they belong to (borrowed, during scan()) */
    unsigned valid, changed; /* bit masks over the slots */
    long long value[C_COUNT];
} cache;

static int
slot_of(PyObject *key)
{
    for (int i = 0; i < C_COUNT; i++)
        if (*cache_keys[i] == key)
            return i;
    return -1;
}

/* Write changed values back and forget them all (before Python code runs). */
static int
flush(void)
{
    int rc = 0;
    for (int i = 0; i < C_COUNT && cache.changed; i++) {
        if (!(cache.changed & (1u << i)))
            continue;
        cache.changed &= ~(1u << i);
        PyObject *v = cache_is_bool[i] ? Py_NewRef(cache.value[i] ? Py_True : Py_False)
                                       : PyLong_FromLongLong(cache.value[i]);
        if (v == NULL || PyDict_SetItem(cache.d, *cache_keys[i], v) < 0)
            rc = -1;
        Py_XDECREF(v);
    }
    cache.valid = 0;
    return rc;
}

/* The cache slot of key for d (after flushing another Terminal's), or -1. */
static int
cached(PyObject *d, PyObject *key)
{
    int slot = slot_of(key);
    if (slot >= 0 && cache.d != d) {
        if (cache.d != NULL && flush() < 0)
            return -2;
        cache.d = d;
        cache.valid = cache.changed = 0;
    }
    return slot;
}

static int
get_value(PyObject *d, PyObject *key, long long *out, int as_bool)
{
    int slot = cached(d, key);
    if (slot == -2)
        return -1;
    if (slot >= 0 && (cache.valid & (1u << slot))) {
        *out = cache.value[slot];
        return 0;
    }
    PyObject *v = get(d, key);
    if (v == NULL)
        return -1;
    *out = as_bool ? PyObject_IsTrue(v) : PyLong_AsLongLong(v);
    if (*out == -1 && PyErr_Occurred())
        return -1;
    if (slot >= 0) {
        cache.value[slot] = *out;
        cache.valid |= 1u << slot;
    }
    return 0;
}

static int
get_long(PyObject *d, PyObject *key, long long *out)
{
    return get_value(d, key, out, 0);
}

static int
get_bool(PyObject *d, PyObject *key, int *out)
{
    long long value;
    int rc = get_value(d, key, &value, 1);
    *out = (int)value;
    return rc;
}

static int
set_long(PyObject *d, PyObject *key, long long value)
{
    int slot = cached(d, key);
    if (slot == -2)
        return -1;
    if (slot >= 0) {
        cache.value[slot] = value;
        cache.valid |= 1u << slot;
        cache.changed |= 1u << slot;
        return 0;
    }
    PyObject *v = PyLong_FromLongLong(value);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(d, key, v);
    Py_DECREF(v);
    return rc;
}

static int
set_bool(PyObject *d, PyObject *key, int value)
{
    return set_long(d, key, value != 0);
}

/* Call term.<name>(arg) (arg may be NULL for no argument), dropping the result. */
static int
call(PyObject *self, PyObject *name, PyObject *arg)
{
    if (flush() < 0)
        return -1;
    PyObject *r = arg ? PyObject_CallMethodOneArg(self, name, arg)
                      : PyObject_CallMethodNoArgs(self, name);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 0;
}

static long long
clamp(long long v, long long lo, long long hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* _Row's fields are __slots__: read and written at their offsets when the
 * row is exactly a _Row (setup() passes the class), else through getattr. */
static PyTypeObject *row_type;
static Py_ssize_t row_offset[5];  /* chars, styles, used, runs, wrapped */
static PyObject **row_keys[5] = {&s_chars, &s_styles, &s_used, &s_runs, &s_wrapped};

static PyObject **
row_slot(PyObject *row, PyObject *key)
{
    if (Py_TYPE(row) != row_type)
        return NULL;
    for (int i = 0; i < 5; i++)
        if (*row_keys[i] == key)
            return (PyObject **)((char *)row + row_offset[i]);
    return NULL;
}

/* row.<key> (new reference) */
static PyObject *
row_get(PyObject *row, PyObject *key)
{
    PyObject **slot = row_slot(row, key);
    if (slot != NULL && *slot != NULL)
        return Py_NewRef(*slot);
    return PyObject_GetAttr(row, key);
}

/* row.<key> = value */
static int
row_set(PyObject *row, PyObject *key, PyObject *value)
{
    PyObject **slot = row_slot(row, key);
    if (slot == NULL)
        return PyObject_SetAttr(row, key, value);
    Py_XSETREF(*slot, Py_NewRef(value));
    return 0;
}

/* The characters _TOKEN reads as text: everything but C0, DEL and C1. */
static inline int
printable(Py_UCS4 c)
{
    return c >= 0x20 && !(c >= 0x7f && c <= 0x9f);
}

/* ----------------------------------------------------------- drawing */

/* Terminal._intern(style): the id of a (fg, bg, attrs) tuple (new
 * reference), added to the table here while it has room; the table's
 * compaction when full stays in Python. */
static PyObject *
intern_style(PyObject *self, PyObject *d, PyObject *style)
{
    PyObject *ids = get(d, s_style_ids), *table = ids ? get(d, s_styles_table) : NULL;
    if (table == NULL)
        return NULL;
    PyObject *sid = PyDict_GetItemWithError(ids, style);
    if (sid != NULL)
        return Py_NewRef(sid);
    if (PyErr_Occurred())
        return NULL;
    PyObject *max = PyDict_GetItemWithError(module_globals, s_max_styles);
    long long limit = max ? PyLong_AsLongLong(max) : -1;
    if (limit == -1 && PyErr_Occurred())
        return NULL;
    if (!PyList_Check(table) || !PyDict_Check(ids) || max == NULL || PyList_GET_SIZE(table) >= limit)
        return flush() < 0 ? NULL : PyObject_CallMethodOneArg(self, s_intern, style);
    sid = PyLong_FromSsize_t(PyList_GET_SIZE(table));
    if (sid == NULL || PyDict_SetItem(ids, style, sid) < 0 || PyList_Append(table, style) < 0) {
        Py_XDECREF(sid);
        return NULL;
    }
    return sid;
}

/* The current pen's style id (new reference): Terminal._pen(), with the
 * dictionary lookup done here when the style is already interned. */
static PyObject *
pen(PyObject *self, PyObject *d)
{
    PyObject *style = get(d, s_style);
    if (style == NULL)
        return NULL;
    if (style != Py_None) {
        Py_INCREF(style);
        return style;
    }
    PyObject *fg = get(d, s_fg), *bg = get(d, s_bg), *attrs = get(d, s_attrs);
    if (!fg || !bg || !attrs)
        return NULL;
    PyObject *key = PyTuple_Pack(3, fg, bg, attrs);
    if (key == NULL)
        return NULL;
    PyObject *sid = intern_style(self, d, key);
    Py_DECREF(key);
    if (sid == NULL || PyDict_SetItem(d, s_style, sid) < 0) {
        Py_XDECREF(sid);
        return NULL;
    }
    return sid;
}

/* list[i] = value (value borrowed), i already bounds-checked. */
static void
list_set(PyObject *list, Py_ssize_t i, PyObject *value)
{
    Py_INCREF(value);
    PyObject *old = PyList_GET_ITEM(list, i);
    PyList_SET_ITEM(list, i, value);
    Py_XDECREF(old);
}

static int
is_empty_cell(PyObject *cell)
{
    return PyUnicode_Check(cell) && PyUnicode_GET_LENGTH(cell) == 0;
}

/* A one-character string for c: CPython's own for Latin-1, else from a
 * small direct-mapped cache, so a line of box drawing does not allocate a
 * string per cell (new reference). */
static PyObject *
char_str(Py_UCS4 c)
{
    if (c < 256)
        return Py_NewRef(latin1[c]);
    PyObject **entry = &char_cache[c % CHAR_CACHE];
    if (*entry == NULL || PyUnicode_READ_CHAR(*entry, 0) != c) {
        PyObject *ch = PyUnicode_FromOrdinal(c);
        if (ch == NULL)
            return NULL;
        Py_XSETREF(*entry, ch);
    }
    return Py_NewRef(*entry);
}

/* Row y was written up to cell `end`: its used mark grows to it, its runs are
 * encoded again, and it is marked dirty (unless everything is, when asked to
 * look). */
static int
row_written(PyObject *d, PyObject *row, long long y, long long end, long long used, int check_all_dirty)
{
    if (end > used) {
        PyObject *v = PyLong_FromLongLong(end);
        int failed = v == NULL || row_set(row, s_used, v) < 0;
        Py_XDECREF(v);
        if (failed)
            return -1;
    }
    if (row_set(row, s_runs, Py_None) < 0)
        return -1;
    int all_dirty = 0;
    if (check_all_dirty && get_bool(d, s_all_dirty, &all_dirty) < 0)
        return -1;
    if (!all_dirty) {
        PyObject *dirty = get(d, s_dirty), *yo = dirty ? PyLong_FromLongLong(y) : NULL;
        int failed = yo == NULL || PySet_Add(dirty, yo) < 0;
        Py_XDECREF(yo);
        if (failed)
            return -1;
    }
    return 0;
}

/* Cells x .. x+take-1 of row y get data[from:from+take] in `style`: the body
 * of both loops of Terminal._put().  The fast loop marks the row dirty only
 * when not everything is (check_all_dirty), the general one always. */
static int
write_cells(PyObject *d, long long y, long long x, int kind, const void *buf, Py_ssize_t from,
            Py_ssize_t take, PyObject *style, long long cols, int check_all_dirty)
{
    PyObject *lines = get(d, s_lines);
    if (lines == NULL)
        return -1;
    if (!PyList_Check(lines) || y < 0 || y >= PyList_GET_SIZE(lines) || x < 0 || x + take > cols) {
        PyErr_SetString(PyExc_RuntimeError, "cursor outside the screen");
        return -1;
    }
    PyObject *row = Py_NewRef(PyList_GET_ITEM(lines, y));
    PyObject *chars = row_get(row, s_chars), *styles = chars ? row_get(row, s_styles) : NULL;
    PyObject *used_obj = styles ? row_get(row, s_used) : NULL;
    int rc = -1;
    if (used_obj == NULL)
        goto done;
    if (!PyList_Check(chars) || !PyList_Check(styles) || PyList_GET_SIZE(chars) < cols
        || PyList_GET_SIZE(styles) < cols) {
        PyErr_SetString(PyExc_RuntimeError, "a row is narrower than the screen");
        goto done;
    }
    long long end = x + take, used = PyLong_AsLongLong(used_obj);
    if (used == -1 && PyErr_Occurred())
        goto done;
    PyObject *space = latin1[' '];
    if (x > 0 && is_empty_cell(PyList_GET_ITEM(chars, x)))
        list_set(chars, x - 1, space);  /* overwriting the right half of a wide char */
    for (Py_ssize_t i = 0; i < take; i++) {
        PyObject *ch = char_str(PyUnicode_READ(kind, buf, from + i));
        if (ch == NULL)
            goto done;
        list_set(chars, x + i, ch);
        Py_DECREF(ch);
        list_set(styles, x + i, style);
    }
    if (end < cols && is_empty_cell(PyList_GET_ITEM(chars, end)))
        list_set(chars, end, space);  /* overwrote the left half of a wide char */
    rc = row_written(d, row, y, end, used, check_all_dirty);
done:
    Py_DECREF(row);
    Py_XDECREF(chars);
    Py_XDECREF(styles);
    Py_XDECREF(used_obj);
    return rc;
}

static int linefeed(PyObject *self, PyObject *d);

/* Terminal._wrap(): the row is marked as continued and the cursor goes to
 * the start of the next line. */
static int
wrap(PyObject *self, PyObject *d)
{
    long long y;
    PyObject *lines = get(d, s_lines);
    if (lines == NULL || get_long(d, s_cursor_y, &y) < 0)
        return -1;
    PyObject *row = PySequence_GetItem(lines, y);
    int failed = row == NULL || row_set(row, s_wrapped, Py_True) < 0;
    Py_XDECREF(row);
    if (failed || set_bool(d, s_wrap_pending, 0) < 0 || set_long(d, s_cursor_x, 0) < 0)
        return -1;
    return linefeed(self, d);
}

/* A run of narrow characters data[start:end] (no controls in it), as
 * Terminal._put() writes it: in one step when it fits before the last
 * column, else in pieces that wrap.  Line drawing and insert mode go to
 * _draw() (which sends such a run to _put()). */
static int
draw_narrow(PyObject *self, PyObject *d, PyObject *data, int kind, const void *buf,
            Py_ssize_t start, Py_ssize_t end)
{
    int graphics, wrap_pending, insert;
    long long cols, x, y;
    Py_ssize_t n = end - start;
    if (get_bool(d, s_graphics, &graphics) < 0 || get_bool(d, s_wrap_pending, &wrap_pending) < 0
        || get_bool(d, s_insert, &insert) < 0 || get_long(d, s_cols, &cols) < 0
        || get_long(d, s_cursor_x, &x) < 0 || get_long(d, s_cursor_y, &y) < 0)
        return -1;
    if (graphics || insert) {
        PyObject *text = PyUnicode_Substring(data, start, end);
        if (text == NULL)
            return -1;
        int rc = call(self, s_draw, text);
        Py_DECREF(text);
        return rc;
    }
    PyObject *last = char_str(PyUnicode_READ(kind, buf, end - 1));
    if (last == NULL)
        return -1;
    int failed = PyDict_SetItem(d, s_last_char, last);
    Py_DECREF(last);
    PyObject *style;
    /* pen() may run Python (interning can compact the style table, which
     * replaces rows' style lists): rows are looked up after it */
    if (failed || (style = pen(self, d)) == NULL)
        return -1;
    int rc = -1;
    if (!wrap_pending && x + n < cols) {  /* the common case: it fits */
        if (write_cells(d, y, x, kind, buf, start, n, style, cols, 1) == 0)
            rc = set_long(d, s_cursor_x, x + n);
        goto done;
    }
    PyObject *autowrap_obj = get(d, s_autowrap);
    int autowrap = autowrap_obj ? PyObject_IsTrue(autowrap_obj) : -1;
    if (autowrap < 0)
        goto done;
    for (Py_ssize_t i = 0; i < n;) {
        if (get_bool(d, s_wrap_pending, &wrap_pending) < 0 || (wrap_pending && wrap(self, d) < 0)
            || get_long(d, s_cursor_x, &x) < 0 || get_long(d, s_cursor_y, &y) < 0)
            goto done;
        Py_ssize_t take = cols - x < n - i ? cols - x : n - i;
        if (write_cells(d, y, x, kind, buf, start + i, take, style, cols, 0) < 0)
            goto done;
        i += take;
        if (x + take < cols) {
            if (set_long(d, s_cursor_x, x + take) < 0)
                goto done;
        } else if (autowrap) {
            if (set_long(d, s_cursor_x, cols - 1) < 0 || set_bool(d, s_wrap_pending, 1) < 0)
                goto done;
        } else {
            /* without autowrap the rest of the run lands on the last cell */
            if (i < n) {
                PyObject *lines = get(d, s_lines), *row = lines ? PySequence_GetItem(lines, y) : NULL;
                PyObject *chars = row ? row_get(row, s_chars) : NULL;
                PyObject *ch = chars ? char_str(PyUnicode_READ(kind, buf, end - 1)) : NULL;
                failed = ch == NULL || PySequence_SetItem(chars, cols - 1, ch) < 0;
                Py_XDECREF(ch);
                Py_XDECREF(chars);
                Py_XDECREF(row);
                if (failed)
                    goto done;
            }
            rc = set_long(d, s_cursor_x, cols - 1);
            goto done;
        }
    }
    rc = 0;
done:
    Py_DECREF(style);
    return rc;
}

/* Is the character narrow (1), or 0 / 2 cells wide; -1 when it is narrow
 * but not yet in _NARROW (terminal._draw() learns it), -2 on error. */
static int
width_class(Py_UCS4 c)
{
    if (c < 0x80)
        return 1;
    PyObject *ch = char_str(c);
    if (ch == NULL)
        return -2;
    int known = PySet_Contains(narrow_chars, ch), width = -2;
    PyObject *cached_width = known == 0 ? PyDict_GetItemWithError(other_widths, ch) : NULL;
    if (known > 0) {
        width = 1;
    } else if (cached_width != NULL) {
        width = (int)PyLong_AsLong(cached_width);
    } else if (known == 0 && !PyErr_Occurred()) {
        PyObject *char_width = PyDict_GetItemWithError(module_globals, s_char_width);
        PyObject *w = char_width && flush() == 0 ? PyObject_CallOneArg(char_width, ch) : NULL;
        if (w != NULL) {
            long value = PyLong_AsLong(w);
            width = value == 1 ? -1 : (value == -1 && PyErr_Occurred()) ? -2 : (int)value;
            /* char_width() depends on the character alone: a wide or zero-width one is asked once */
            if ((width == 0 || width == 2) && PyDict_SetItem(other_widths, ch, w) < 0)
                width = -2;
            Py_DECREF(w);
        } else if (!PyErr_Occurred()) {
            PyErr_SetString(PyExc_RuntimeError, "terminal.char_width is missing");
        }
    }
    Py_DECREF(ch);
    return width;
}

/* Terminal._draw_wide() for one character two cells wide, out of insert mode
 * and line drawing (the caller checked): the cursor's cell and the next get
 * it and an empty string, wrapping first when only the last column is left. */
static int
draw_wide_char(PyObject *self, PyObject *d, Py_UCS4 c)
{
    PyObject *ch = char_str(c), *style = NULL, *row = NULL, *chars = NULL, *styles = NULL, *used_obj = NULL;
    int rc = -1, wrap_pending, autowrap;
    long long cols, x, y, used;
    if (ch == NULL || PyDict_SetItem(d, s_last_char, ch) < 0)
        goto done;
    /* pen() may run Python (interning can compact the style table, which
     * replaces rows' style lists): rows are looked up after it */
    if ((style = pen(self, d)) == NULL || get_long(d, s_cols, &cols) < 0
        || get_bool(d, s_wrap_pending, &wrap_pending) < 0 || (wrap_pending && wrap(self, d) < 0)
        || get_long(d, s_cursor_x, &x) < 0)
        goto done;
    PyObject *autowrap_obj = get(d, s_autowrap);
    if (autowrap_obj == NULL || (autowrap = PyObject_IsTrue(autowrap_obj)) < 0)
        goto done;
    if (x >= cols - 1) {
        if (!autowrap || cols < 2) {
            rc = 0;  /* a wide character that cannot fit is dropped */
            goto done;
        }
        if (set_bool(d, s_wrap_pending, 1) < 0 || wrap(self, d) < 0)
            goto done;
        x = 0;
    }
    PyObject *lines = get(d, s_lines);
    if (lines == NULL || get_long(d, s_cursor_y, &y) < 0)
        goto done;
    if (!PyList_Check(lines) || y < 0 || y >= PyList_GET_SIZE(lines)) {
        PyErr_SetString(PyExc_RuntimeError, "cursor outside the screen");
        goto done;
    }
    row = Py_NewRef(PyList_GET_ITEM(lines, y));
    if ((chars = row_get(row, s_chars)) == NULL || (styles = row_get(row, s_styles)) == NULL
        || (used_obj = row_get(row, s_used)) == NULL)
        goto done;
    if (!PyList_Check(chars) || !PyList_Check(styles) || PyList_GET_SIZE(chars) < cols
        || PyList_GET_SIZE(styles) < cols) {
        PyErr_SetString(PyExc_RuntimeError, "a row is narrower than the screen");
        goto done;
    }
    if ((used = PyLong_AsLongLong(used_obj)) == -1 && PyErr_Occurred())
        goto done;
    long long end = x + 2;
    if (x > 0 && is_empty_cell(PyList_GET_ITEM(chars, x)))
        list_set(chars, x - 1, latin1[' ']);  /* overwriting the right half of a wide char */
    if (end < cols && is_empty_cell(PyList_GET_ITEM(chars, end)))
        list_set(chars, end, latin1[' ']);  /* overwriting the left half of one */
    list_set(chars, x, ch);
    list_set(chars, x + 1, empty_str);
    list_set(styles, x, style);
    list_set(styles, x + 1, style);
    if (row_written(d, row, y, end, used, 1) < 0)
        goto done;
    if (end >= cols)
        rc = set_long(d, s_cursor_x, cols - 1) < 0 || set_bool(d, s_wrap_pending, autowrap) < 0 ? -1 : 0;
    else
        rc = set_long(d, s_cursor_x, end);
done:
    Py_XDECREF(ch);
    Py_XDECREF(style);
    Py_XDECREF(row);
    Py_XDECREF(chars);
    Py_XDECREF(styles);
    Py_XDECREF(used_obj);
    return rc;
}

/* Text data[start:end] (no controls in it), as Terminal._draw() writes it:
 * runs of narrow characters with _put(), wide and zero-width ones one by
 * one with _draw_wide(). */
static int
draw(PyObject *self, PyObject *d, PyObject *data, int kind, const void *buf,
     Py_ssize_t start, Py_ssize_t end, int ascii)
{
    if (ascii)
        return draw_narrow(self, d, data, kind, buf, start, end);
    int graphics, mixed = 0, learn = 0;
    if (get_bool(d, s_graphics, &graphics) < 0)
        return -1;
    for (Py_ssize_t i = start; i < end && !graphics && !learn; i++) {
        int width = width_class(PyUnicode_READ(kind, buf, i));
        if (width == -2)
            return -1;
        learn = width == -1;  /* _draw() adds it to _NARROW first: all in Python */
        mixed |= width != 1;
    }
    if (!graphics && !learn && !mixed)
        return draw_narrow(self, d, data, kind, buf, start, end);
    if (!graphics && !learn) {
        /* _draw_mixed(): narrow runs as above, the others one by one */
        Py_ssize_t run = start;
        for (Py_ssize_t j = start; j < end; j++) {
            Py_UCS4 c = PyUnicode_READ(kind, buf, j);
            int w = width_class(c);
            if (w == -2)
                return -1;
            if (w == 1)
                continue;
            if (run < j && draw_narrow(self, d, data, kind, buf, run, j) < 0)
                return -1;
            run = j + 1;
            int insert;
            if (get_bool(d, s_insert, &insert) < 0)
                return -1;
            if (w == 2 && !insert) {
                if (draw_wide_char(self, d, c) < 0)
                    return -1;
                continue;
            }
            PyObject *ch = PyUnicode_FromOrdinal(c);
            if (ch == NULL || call(self, s_draw_wide, ch) < 0) {
                Py_XDECREF(ch);
                return -1;
            }
            Py_DECREF(ch);
        }
        return run < end ? draw_narrow(self, d, data, kind, buf, run, end) : 0;
    }
    PyObject *text = PyUnicode_Substring(data, start, end);
    if (text == NULL)
        return -1;
    int rc = call(self, s_draw, text);
    Py_DECREF(text);
    return rc;
}

/* Add (text, style) or (text, lengths, styles) (third given) to term.history. */
static int
history_add(PyObject *d, PyObject *text, PyObject *style, PyObject *styles)
{
    PyObject *history = get(d, s_history);
    if (history == NULL)
        return -1;
    PyObject *pushed = PyObject_GetAttr(history, s_pushed);
    if (pushed == NULL)
        return -1;
    PyObject *one = PyLong_FromLong(1);
    PyObject *next = one ? PyNumber_Add(pushed, one) : NULL;
    Py_DECREF(pushed);
    Py_XDECREF(one);
    int failed = next == NULL || PyObject_SetAttr(history, s_pushed, next) < 0;
    Py_XDECREF(next);
    if (failed)
        return -1;
    PyObject *kept = PyObject_GetAttr(history, s_lines_of_history);  /* a bounded deque */
    PyObject *entry = !kept ? NULL : styles ? PyTuple_Pack(3, text, style, styles) : PyTuple_Pack(2, text, style);
    PyObject *r = entry ? PyObject_CallMethodOneArg(kept, s_append, entry) : NULL;
    Py_XDECREF(kept);
    Py_XDECREF(entry);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Terminal._push_history(row): the row's used cells cut into runs of one
 * style, trailing default blanks dropped, stored the way History keeps a
 * line: (text, style) for one run, else (text, run lengths as code points,
 * styles). */
static int
push_history(PyObject *self, PyObject *d, PyObject *row)
{
    PyObject *chars = row_get(row, s_chars), *ids = NULL, *used_obj = NULL, *text = NULL,
             *lengths = NULL, *styles = NULL, *entry = NULL;
    Py_UCS4 *run_len = NULL;
    long *run_sid = NULL;
    int rc = -1;
    if (chars == NULL || (ids = row_get(row, s_styles)) == NULL
        || (used_obj = row_get(row, s_used)) == NULL)
        goto done;
    Py_ssize_t used = PyLong_AsSsize_t(used_obj);
    if (used == -1 && PyErr_Occurred())
        goto done;
    if (!PyList_Check(chars) || !PyList_Check(ids) || used < 0 || used > PyList_GET_SIZE(chars)
        || used > PyList_GET_SIZE(ids)) {
        rc = call(self, s_push_history, row);
        goto done;
    }
    run_len = PyMem_Malloc(sizeof(Py_UCS4) * (used + 1));
    run_sid = PyMem_Malloc(sizeof(long) * (used + 1));
    if (run_len == NULL || run_sid == NULL)
        goto done;
    /* runs of equal style ids, measured in characters of the joined text
     * (a wide char's placeholder cell is "", a combined cell longer) */
    Py_ssize_t runs = 0, total = 0;
    Py_UCS4 maxchar = 0;
    PyObject *previous = NULL;
    long sid = 0;
    for (Py_ssize_t i = 0; i < used; i++) {
        PyObject *cell = PyList_GET_ITEM(chars, i), *id = PyList_GET_ITEM(ids, i);
        if (id != previous) {  /* neighbours usually share one int object */
            sid = PyLong_AsLong(id);
            if (sid == -1 && PyErr_Occurred())
                goto done;
            previous = id;
        }
        if (!PyUnicode_Check(cell)) {
            PyErr_SetString(PyExc_TypeError, "a cell is not a str");
            goto done;
        }
        if (runs == 0 || run_sid[runs - 1] != sid) {
            run_sid[runs] = sid;
            run_len[runs++] = 0;
        }
        run_len[runs - 1] += (Py_UCS4)PyUnicode_GET_LENGTH(cell);
        total += PyUnicode_GET_LENGTH(cell);
        if (PyUnicode_MAX_CHAR_VALUE(cell) > maxchar)
            maxchar = PyUnicode_MAX_CHAR_VALUE(cell);
    }
    /* "".join(chars[:used]), without the generic join's per-item work */
    if ((text = PyUnicode_New(total, maxchar)) == NULL)
        goto done;
    int text_kind = PyUnicode_KIND(text);
    void *text_data = PyUnicode_DATA(text);
    for (Py_ssize_t i = 0, at = 0; i < used; i++) {
        PyObject *cell = PyList_GET_ITEM(chars, i);
        Py_ssize_t length = PyUnicode_GET_LENGTH(cell);
        if (length == 1) {
            PyUnicode_WRITE(text_kind, text_data, at, PyUnicode_READ_CHAR(cell, 0));
        } else if (length > 0 && PyUnicode_CopyCharacters(text, at, cell, 0, length) < 0) {
            goto done;
        }
        at += length;
    }
    Py_ssize_t n = PyUnicode_GET_LENGTH(text);
    if (runs > 0 && run_sid[runs - 1] == 0) {  /* the default style: trailing blanks go */
        int kind = PyUnicode_KIND(text);
        const void *buf = PyUnicode_DATA(text);
        while (run_len[runs - 1] > 0 && PyUnicode_READ(kind, buf, n - 1) == ' ') {
            run_len[runs - 1]--;
            n--;
        }
        if (run_len[runs - 1] == 0)
            runs--;
    }
    if (n < PyUnicode_GET_LENGTH(text)) {
        Py_SETREF(text, PyUnicode_Substring(text, 0, n));
        if (text == NULL)
            goto done;
    }
    PyObject *table = get(d, s_styles_table);
    if (table == NULL)
        goto done;
    if (runs == 0) {
        rc = history_add(d, text, default_style, NULL);
        goto done;
    }
    if ((styles = PyTuple_New(runs)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < runs; i++) {
        PyObject *style = run_sid[i] == 0 ? Py_NewRef(default_style) : PySequence_GetItem(table, run_sid[i]);
        if (style == NULL)
            goto done;
        PyTuple_SET_ITEM(styles, i, style);
    }
    if (runs == 1) {
        rc = history_add(d, text, PyTuple_GET_ITEM(styles, 0), NULL);
        goto done;
    }
    lengths = PyUnicode_FromKindAndData(PyUnicode_4BYTE_KIND, run_len, runs);
    if (lengths == NULL)
        goto done;
    rc = history_add(d, text, lengths, styles);
done:
    Py_XDECREF(chars);
    Py_XDECREF(ids);
    Py_XDECREF(used_obj);
    Py_XDECREF(text);
    Py_XDECREF(lengths);
    Py_XDECREF(styles);
    Py_XDECREF(entry);
    PyMem_Free(run_len);
    PyMem_Free(run_sid);
    return rc;
}

/* Set list[0:n] to n references to value. */
static void
list_fill(PyObject *list, Py_ssize_t n, PyObject *value)
{
    for (Py_ssize_t i = 0; i < n && i < PyList_GET_SIZE(list); i++)
        list_set(list, i, value);
}

/* Terminal._scroll_up(1) when the region is the whole screen and erased cells
 * are default blanks (what plain output does per line): the top row goes to
 * history and comes back blanked at the bottom. */
static int
scroll_screen(PyObject *self, PyObject *d, PyObject *lines)
{
    PyObject *row = PyList_GET_ITEM(lines, 0), *chars = NULL, *styles = NULL, *used_obj = NULL;
    Py_INCREF(row);
    int rc = -1;
    if (PyList_SetSlice(lines, 0, 1, NULL) < 0)
        goto done;
    PyObject *primary = get(d, s_primary), *scrollback = primary ? get(d, s_scrollback) : NULL;
    if (scrollback == NULL)
        goto done;
    int keep = PyObject_IsTrue(scrollback);
    if (keep < 0 || (keep && primary == Py_None && push_history(self, d, row) < 0))
        goto done;
    if ((chars = row_get(row, s_chars)) == NULL || (styles = row_get(row, s_styles)) == NULL
        || (used_obj = row_get(row, s_used)) == NULL)
        goto done;
    Py_ssize_t used = PyLong_AsSsize_t(used_obj);
    if (used == -1 && PyErr_Occurred())
        goto done;
    if (used > 0) {
        if (!PyList_Check(chars) || !PyList_Check(styles)) {
            PyErr_SetString(PyExc_TypeError, "row cells are not lists");
            goto done;
        }
        PyObject *space = PyUnicode_FromOrdinal(' '), *zero = PyLong_FromLong(0);
        if (space && zero) {
            list_fill(chars, used, space);
            list_fill(styles, used, zero);
        }
        Py_XDECREF(space);
        int failed = !space || !zero || row_set(row, s_used, zero) < 0;
        Py_XDECREF(zero);
        if (failed)
            goto done;
    }
    if (row_set(row, s_wrapped, Py_False) < 0 || row_set(row, s_runs, Py_None) < 0
        || PyList_Append(lines, row) < 0)
        goto done;
    rc = set_bool(d, s_all_dirty, 1);
done:
    Py_DECREF(row);
    Py_XDECREF(chars);
    Py_XDECREF(styles);
    Py_XDECREF(used_obj);
    return rc;
}

/* Terminal._linefeed() */
static int
linefeed(PyObject *self, PyObject *d)
{
    long long y, bottom, rows, top, blank;
    if (get_long(d, s_cursor_y, &y) < 0 || get_long(d, s_bottom, &bottom) < 0
        || get_long(d, s_rows, &rows) < 0)
        return -1;
    if (y == bottom) {
        PyObject *lines = get(d, s_lines);
        if (lines == NULL || get_long(d, s_top, &top) < 0 || get_long(d, s_blank, &blank) < 0)
            return -1;
        if (top == 0 && blank == 0 && PyList_Check(lines) && PyList_GET_SIZE(lines) > 0
            && bottom == PyList_GET_SIZE(lines) - 1)
            return scroll_screen(self, d, lines);
        return call(self, s_scroll_up, NULL);
    }
    if (y < rows - 1)
        return set_long(d, s_cursor_y, y + 1);
    return 0;
}

/* ---------------------------------------------------------------- SGR */

/* One parameter of a CSI: its digits as a number, and whether it was empty. */
typedef struct {
    long long value;
    Py_ssize_t start, len;  /* where its digits are in the data */
} Param;

/* The colour of 38;2;r;g;b parts r, g, b as terminal._rgb() makes it:
 * "#rrggbb", or None when a part is empty or above 255 (new reference). */
static PyObject *
rgb(const Param *p)
{
    for (int i = 0; i < 3; i++)
        if (p[i].len == 0 || p[i].value > 255)
            Py_RETURN_NONE;
    static const char hex[] = "0123456789abcdef";
    PyObject *color = PyUnicode_New(7, 127);
    if (color == NULL)
        return NULL;
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(color);
    out[0] = '#';
    for (int i = 0; i < 3; i++) {
        out[1 + 2 * i] = hex[p[i].value >> 4];
        out[2 + 2 * i] = hex[p[i].value & 15];
    }
    return color;
}

/* A part that is exactly the one digit `digit` (terminal.py compares strings). */
static int
is_digit_part(const Param *p, int digit)
{
    return p->len == 1 && p->value == digit;
}

/* Terminal._sgr() for parameters that are plain numbers (no colons). */
static int
sgr(PyObject *self, PyObject *d, const Param *parts, int n)
{
    PyObject *fg = get(d, s_fg), *bg = get(d, s_bg), *attrs_obj = get(d, s_attrs);
    if (!fg || !bg || !attrs_obj)
        return -1;
    long long attrs = PyLong_AsLongLong(attrs_obj);
    if (attrs == -1 && PyErr_Occurred())
        return -1;
    Py_INCREF(fg);
    Py_INCREF(bg);
    PyObject *old_bg = bg;
    Py_INCREF(old_bg);
    int rc = -1;

    /* terminal._parse_sgr(), applied as it goes */
    for (int i = 0; i < n;) {
        long long code = parts[i].value;  /* an empty part is 0 */
        i++;
        PyObject **target = NULL, *color = NULL;
        if (code == 0) {
            Py_SETREF(fg, Py_NewRef(Py_None));
            Py_SETREF(bg, Py_NewRef(Py_None));
            attrs = 0;
        } else if ((code >= 30 && code <= 37) || (code >= 90 && code <= 97)) {
            target = &fg;
            color = PyLong_FromLongLong(code <= 37 ? code - 30 : code - 82);
        } else if ((code >= 40 && code <= 47) || (code >= 100 && code <= 107)) {
            target = &bg;
            color = PyLong_FromLongLong(code <= 47 ? code - 40 : code - 92);
        } else if (code == 39 || code == 49) {
            target = code == 39 ? &fg : &bg;
            color = Py_NewRef(Py_None);
        } else if (code < SGR_TABLE && attr_on[code]) {
            attrs |= attr_on[code];
        } else if (code < SGR_TABLE && attr_off[code]) {
            attrs &= ~attr_off[code];
        } else if (code == 38 || code == 48 || code == 58) {
            if (i < n && is_digit_part(&parts[i], 5) && i + 1 < n) {
                const Param *p = &parts[i + 1];  /* _palette(): a number below 256 */
                color = (p->len && p->value < 256) ? PyLong_FromLongLong(p->value) : Py_NewRef(Py_None);
                i += 2;
            } else if (i < n && is_digit_part(&parts[i], 2) && i + 3 < n) {
                color = rgb(&parts[i + 1]);
                i += 4;
            } else {
                break;  /* malformed: stop rather than misread the rest */
            }
            if (code == 58)
                Py_CLEAR(color);  /* underline colour: parsed only to skip it */
            else
                target = code == 38 ? &fg : &bg;
        }
        if (target != NULL) {
            if (color == NULL)
                goto done;
            Py_SETREF(*target, color);
        } else if (PyErr_Occurred()) {
            goto done;
        }
    }

    int changed = PyObject_RichCompareBool(bg, old_bg, Py_NE);
    if (changed < 0)
        goto done;
    if (changed) {
        /* self._bg = bg; self._blank = self._intern((None, bg, 0)) */
        if (PyDict_SetItem(d, s_bg, bg) < 0)
            goto done;
        PyObject *zero = PyLong_FromLong(0);
        PyObject *key = zero ? PyTuple_Pack(3, Py_None, bg, zero) : NULL;
        Py_XDECREF(zero);
        if (key == NULL)
            goto done;
        PyObject *sid = intern_style(self, d, key);
        Py_DECREF(key);
        if (sid == NULL)
            goto done;
        int failed = PyDict_SetItem(d, s_blank, sid);
        Py_DECREF(sid);
        if (failed)
            goto done;
    }
    if (PyDict_SetItem(d, s_fg, fg) < 0 || set_long(d, s_attrs, attrs) < 0
        || PyDict_SetItem(d, s_style, Py_None) < 0)
        goto done;
    rc = 0;
done:
    Py_DECREF(fg);
    Py_DECREF(bg);
    Py_DECREF(old_bg);
    return rc;
}

/* ---------------------------------------------------------------- CSI */

/* Terminal._goto(y, col) */
static int
go_to(PyObject *d, long long y, long long col)
{
    long long rows, cols, top, bottom;
    int origin;
    if (get_long(d, s_rows, &rows) < 0 || get_long(d, s_cols, &cols) < 0
        || get_long(d, s_top, &top) < 0 || get_long(d, s_bottom, &bottom) < 0
        || get_bool(d, s_origin, &origin) < 0)
        return -1;
    if (origin)
        y = clamp(y + top, top, bottom);
    if (set_long(d, s_cursor_y, clamp(y, 0, rows - 1)) < 0
        || set_long(d, s_cursor_x, clamp(col, 1, cols) - 1) < 0)
        return -1;
    return set_bool(d, s_wrap_pending, 0);
}

/* The cursor moves of Terminal._csi() (final is one of GABCDHf`da). */
static int
move(PyObject *d, Py_UCS4 final, const Param *args, int nargs)
{
    long long arg = nargs ? args[0].value : 0, n = arg ? arg : 1;
    long long x, y, cols, rows, top, bottom;
    int wrap_pending;
    if (get_long(d, s_cursor_x, &x) < 0 || get_long(d, s_cursor_y, &y) < 0
        || get_long(d, s_cols, &cols) < 0 || get_long(d, s_rows, &rows) < 0
        || get_long(d, s_top, &top) < 0 || get_long(d, s_bottom, &bottom) < 0
        || get_bool(d, s_wrap_pending, &wrap_pending) < 0)
        return -1;
    long long edge = wrap_pending ? cols : x;
    if (set_bool(d, s_wrap_pending, 0) < 0)
        return -1;
    switch (final) {
    case 'G': case '`':
        return set_long(d, s_cursor_x, (n < cols ? n : cols) - 1);
    case 'A': {
        long long floor = y >= top ? top : 0;
        return set_long(d, s_cursor_y, y - n > floor ? y - n : floor);
    }
    case 'B': {
        long long ceiling = y <= bottom ? bottom : rows - 1;
        return set_long(d, s_cursor_y, y + n < ceiling ? y + n : ceiling);
    }
    case 'C': case 'a':
        return set_long(d, s_cursor_x, x + n < cols - 1 ? x + n : cols - 1);
    case 'D':
        return set_long(d, s_cursor_x, clamp(edge - n, 0, cols - 1));
    case 'H': case 'f': {
        long long col = nargs > 1 ? args[1].value : 0;
        return go_to(d, n - 1, col ? col : 1);
    }
    default:  /* 'd' */
        return go_to(d, n - 1, x + 1);
    }
}

/* Terminal._erase_cells(y, start, end); 0 if the row is not as expected
 * (nothing changed then), 1 when done, -1 on error. */
static int
erase_cells(PyObject *d, long long y, long long start, long long end, long long cols)
{
    if (start >= end)
        return 1;
    PyObject *lines = get(d, s_lines), *blank = lines ? get(d, s_blank) : NULL;
    if (blank == NULL)
        return -1;
    if (!PyList_Check(lines) || y < 0 || y >= PyList_GET_SIZE(lines) || start < 0)
        return 0;
    PyObject *row = PyList_GET_ITEM(lines, y), *chars = NULL, *styles = NULL, *used_obj = NULL;
    Py_INCREF(row);
    int rc = -1;
    if ((chars = row_get(row, s_chars)) == NULL || (styles = row_get(row, s_styles)) == NULL
        || (used_obj = row_get(row, s_used)) == NULL)
        goto done;
    long long used = PyLong_AsLongLong(used_obj), blank_id = PyLong_AsLongLong(blank);
    if (PyErr_Occurred())
        goto done;
    rc = 0;
    if (!PyList_Check(chars) || !PyList_Check(styles) || end > PyList_GET_SIZE(chars)
        || end > PyList_GET_SIZE(styles) || (end < cols && end >= PyList_GET_SIZE(chars)))
        goto done;
    rc = -1;
    PyObject *space = PyUnicode_FromOrdinal(' ');
    if (space == NULL)
        goto done;
    if (start > 0 && is_empty_cell(PyList_GET_ITEM(chars, start)))
        list_set(chars, start - 1, space);  /* the left half of a cut wide char */
    if (end < cols && is_empty_cell(PyList_GET_ITEM(chars, end)))
        list_set(chars, end, space);  /* the right half of a cut wide char */
    for (long long i = start; i < end; i++) {
        list_set(chars, i, space);
        list_set(styles, i, blank);
    }
    Py_DECREF(space);
    long long new_used = used;
    if (blank_id != 0) {
        if (end > used)
            new_used = end;
    } else if (end >= used && used > start) {
        new_used = start;  /* everything from start on is default blanks now */
    }
    if (new_used != used) {
        PyObject *v = PyLong_FromLongLong(new_used);
        int failed = v == NULL || row_set(row, s_used, v) < 0;
        Py_XDECREF(v);
        if (failed)
            goto done;
    }
    if (row_set(row, s_runs, Py_None) < 0)
        goto done;
    PyObject *dirty = get(d, s_dirty), *yo = dirty ? PyLong_FromLongLong(y) : NULL;
    int failed = yo == NULL || PySet_Add(dirty, yo) < 0;
    Py_XDECREF(yo);
    rc = failed ? -1 : 1;
done:
    Py_DECREF(row);
    Py_XDECREF(chars);
    Py_XDECREF(styles);
    Py_XDECREF(used_obj);
    return rc;
}

/* Terminal._erase_line(how) (CSI K); 0 to leave it to Python. */
static int
erase_line(PyObject *d, long long how)
{
    long long x, y, cols;
    int wrap_pending;
    if (get_long(d, s_cursor_x, &x) < 0 || get_long(d, s_cursor_y, &y) < 0
        || get_long(d, s_cols, &cols) < 0 || get_bool(d, s_wrap_pending, &wrap_pending) < 0)
        return -1;
    int rc = 1;
    if (how == 0)
        rc = erase_cells(d, y, wrap_pending ? cols : x, cols, cols);
    else if (how == 1)
        rc = erase_cells(d, y, 0, x + 1, cols);
    else if (how == 2)
        rc = erase_cells(d, y, 0, cols, cols);
    if (rc <= 0 || (how != 0 && how != 2))
        return rc;
    PyObject *lines = get(d, s_lines);
    if (lines == NULL)
        return -1;
    PyObject *row = PySequence_GetItem(lines, y);
    int failed = row == NULL || row_set(row, s_wrapped, Py_False) < 0;
    Py_XDECREF(row);
    return failed ? -1 : 1;
}

/* Terminal._set_mode(mode, on) for the modes that are one flag; the others
 * (origin, alternate screen, mouse...) in Python. */
static int
set_mode(PyObject *self, PyObject *d, long long mode, int on)
{
    PyObject *flag = on ? Py_True : Py_False, *key = NULL;
    switch (mode) {
    case 25: return PyDict_SetItem(d, s_cursor_visible, flag);
    case 7: return PyDict_SetItem(d, s_autowrap, flag);
    case 1: key = s_mode_app_cursor; break;
    case 66: key = s_mode_app_keypad; break;
    case 1004: key = s_mode_focus; break;
    case 1006: key = s_mode_mouse_sgr; break;
    case 2004: key = s_mode_bracketed_paste; break;
    case 2026: key = s_mode_sync; break;
    default: {
        PyObject *number = PyLong_FromLongLong(mode);
        if (number == NULL)
            return -1;
        PyObject *r = flush() < 0 ? NULL : PyObject_CallMethodObjArgs(self, s_set_mode, number, flag, NULL);
        Py_DECREF(number);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    }
    PyObject *modes = get(d, s_modes);
    return modes == NULL ? -1 : PyObject_SetItem(modes, key, flag);
}

/* A CSI starting at data[pos] (ESC [).  Returns 1 and sets *next when it was
 * handled, 0 to leave it to Python (cut off, malformed), -1 on error. */
static int
csi(PyObject *self, PyObject *d, PyObject *data, int kind, const void *buf,
    Py_ssize_t pos, Py_ssize_t len, Py_ssize_t *next)
{
    Py_ssize_t p = pos + 2, params_start = p;
    Py_UCS4 private = 0;  /* a leading < = > ? */
    int plain = 1;  /* parameters (after it) are digits and semicolons only */
    while (p < len) {
        Py_UCS4 c = PyUnicode_READ(kind, buf, p);
        if (c < 0x30 || c > 0x3f)
            break;
        if (p == params_start && c > ';')
            private = c;
        else if (c > ';' || c == ':')
            plain = 0;
        p++;
    }
    if (private)
        params_start++;  /* parsed below without it */
    Py_ssize_t params_end = p;
    while (p < len) {
        Py_UCS4 c = PyUnicode_READ(kind, buf, p);
        if (c < 0x20 || c > 0x2f)
            break;
        p++;
    }
    Py_ssize_t inter_end = p;
    if (p >= len)
        return 0;  /* cut off: Python keeps it for the next feed() */
    Py_UCS4 final = PyUnicode_READ(kind, buf, p);
    if (final < 0x40 || final > 0x7e)
        return 0;  /* not a CSI after all: the regex decides what it is */
    *next = p + 1;

    /* Split plain parameters into numbers (at most 9 digits each, like terminal.py). */
    Param parts[MAX_PARAMS];
    int nparts = 0;
    if (plain && inter_end == params_end) {
        Py_ssize_t q = params_start;
        while (plain) {
            if (nparts == MAX_PARAMS) {
                plain = 0;
                break;
            }
            Param *part = &parts[nparts++];
            part->start = q;
            part->value = 0;
            while (q < params_end && PyUnicode_READ(kind, buf, q) != ';') {
                if (q - part->start < MAX_DIGITS)  /* longer ones are left to Python */
                    part->value = part->value * 10 + (PyUnicode_READ(kind, buf, q) - '0');
                q++;
            }
            part->len = q - part->start;
            if (part->len > MAX_DIGITS)
                plain = 0;
            if (q >= params_end)
                break;
            q++;  /* the ';' */
        }
    } else {
        plain = 0;
    }

    if (params_end == params_start)
        nparts = 0;  /* _ints(""): no arguments at all (SGR reads it as one 0) */
    if (plain && private == '?' && (final == 'h' || final == 'l')) {
        for (int i = 0; i < nparts; i++)
            if (set_mode(self, d, parts[i].value, final == 'h') < 0)
                return -1;
        return 1;
    }
    if (plain && !private && final == 'm') {
        if (nparts == 0) {  /* "" splits into one empty part: a reset */
            parts[0].value = 0, parts[0].len = 0;
            nparts = 1;
        }
        return sgr(self, d, parts, nparts) < 0 ? -1 : 1;
    }
    if (plain && !private && strchr("GABCDHf`da", (int)final) != NULL)
        return move(d, final, parts, nparts) < 0 ? -1 : 1;
    if (plain && !private && final == 'K') {
        int rc = erase_line(d, nparts ? parts[0].value : 0);
        if (rc != 0)
            return rc;
    }
    if (private)
        params_start--;  /* _csi() gets the parameters as they came */

    /* the general dispatch, as the Python loop calls it */
    PyObject *params = PyUnicode_Substring(data, params_start, params_end);
    PyObject *inter = params ? PyUnicode_Substring(data, params_end, inter_end) : NULL;
    PyObject *fin = inter ? PyUnicode_FromOrdinal(final) : NULL;
    PyObject *r = NULL;
    if (fin != NULL) {
        /* the Python loop sends SGR to _sgr directly; _csi does the same for it */
        PyObject *args[] = {self, params, inter, fin};
        if (flush() == 0)
            r = PyObject_VectorcallMethod(s_csi, args, 4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    }
    Py_XDECREF(params);
    Py_XDECREF(inter);
    Py_XDECREF(fin);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    return 1;
}

/* ---------------------------------------------------------------- scan */

/* Where the text run starting at data[pos] ends, and whether it is ASCII:
 * one loop per string kind, the tightest loop of the module. */
#define TEXT_END(type)                                                    \
    do {                                                                  \
        const type *p = (const type *)buf;                                \
        Py_UCS4 all = 0;                                                  \
        for (; pos < len && printable(p[pos]); pos++)                     \
            all |= p[pos];                                                \
        *ascii = all < 0x80;                                              \
        return pos;                                                       \
    } while (0)

static Py_ssize_t
text_end(int kind, const void *buf, Py_ssize_t pos, Py_ssize_t len, int *ascii)
{
    if (kind == PyUnicode_1BYTE_KIND)
        TEXT_END(Py_UCS1);
    if (kind == PyUnicode_2BYTE_KIND)
        TEXT_END(Py_UCS2);
    TEXT_END(Py_UCS4);
}

static PyObject *
scan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyUnicode_Check(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "scan(terminal, data: str, pos: int)");
        return NULL;
    }
    PyObject *self = args[0], *data = args[1];
    Py_ssize_t pos = PyLong_AsSsize_t(args[2]);
    if (pos == -1 && PyErr_Occurred())
        return NULL;
    PyObject *d = PyObject_GenericGetDict(self, NULL);
    if (d == NULL)
        return NULL;
    if (cache.d != NULL && flush() < 0) {  /* (a scan() inside a Python callback flushed already) */
        Py_DECREF(d);
        return NULL;
    }
    cache.d = d;
    cache.valid = cache.changed = 0;
    int kind = PyUnicode_KIND(data);
    const void *buf = PyUnicode_DATA(data);
    Py_ssize_t len = PyUnicode_GET_LENGTH(data);
    if (pos < 0)
        pos = 0;

    while (pos < len) {
        Py_UCS4 c = PyUnicode_READ(kind, buf, pos);
        if (printable(c)) {
            int ascii;
            Py_ssize_t end = text_end(kind, buf, pos, len, &ascii);
            if (draw(self, d, data, kind, buf, pos, end, ascii) < 0)
                goto error;
            pos = end;
        } else if (c == '\r') {
            if (set_long(d, s_cursor_x, 0) < 0 || set_bool(d, s_wrap_pending, 0) < 0)
                goto error;
            pos++;
        } else if (c == '\n' || c == 0x0b || c == 0x0c) {
            if (linefeed(self, d) < 0)
                goto error;
            pos++;
        } else if (c == 0x1b) {
            Py_ssize_t next;
            int handled = 0;
            if (pos + 1 < len && PyUnicode_READ(kind, buf, pos + 1) == '[')
                handled = csi(self, d, data, kind, buf, pos, len, &next);
            if (handled < 0)
                goto error;
            if (!handled)
                break;  /* Python's turn */
            pos = next;
        } else {
            PyObject *ch = PyUnicode_FromOrdinal(c);
            int failed = ch == NULL || call(self, s_control, ch) < 0;
            Py_XDECREF(ch);
            if (failed)
                goto error;
            pos++;
        }
    }
    int failed = flush();
    cache.d = NULL;
    Py_DECREF(d);
    return failed ? NULL : PyLong_FromSsize_t(pos);
error:;
    /* keep what was done so far consistent, and the error that stopped it */
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    flush();
    PyErr_Clear();
    PyErr_Restore(type, value, traceback);
    cache.d = NULL;
    Py_DECREF(d);
    return NULL;
}

/* ------------------------------------------------------- row encoding */

/* One run of cells of one style while a row is encoded. */
typedef struct {
    Py_ssize_t start, end;  /* cells */
    Py_ssize_t length;      /* characters of its text */
    Py_UCS4 maxchar;
    long sid;
} Run;

#define STACK_RUNS 128

/* The text of cells start..end-1, its first `length` characters (new reference). */
static PyObject *
join_cells(PyObject *chars, const Run *run, Py_ssize_t length)
{
    PyObject *text = PyUnicode_New(length, run->maxchar);
    if (text == NULL)
        return NULL;
    int kind = PyUnicode_KIND(text);
    void *data = PyUnicode_DATA(text);
    Py_ssize_t at = 0;
    for (Py_ssize_t i = run->start; i < run->end && at < length; i++) {
        PyObject *cell = PyList_GET_ITEM(chars, i);
        Py_ssize_t n = PyUnicode_GET_LENGTH(cell);
        if (n > length - at)
            n = length - at;
        if (n == 1) {
            PyUnicode_WRITE(kind, data, at, PyUnicode_READ_CHAR(cell, 0));
        } else if (n > 0 && PyUnicode_CopyCharacters(text, at, cell, 0, n) < 0) {
            Py_DECREF(text);
            return NULL;
        }
        at += n;
    }
    return text;
}

/* encode(row, styles) -> list of (text, fg, bg, attrs), or None to leave the
 * row to Python: Terminal._encode(row), i.e. the row's used cells cut where
 * the style id changes, each piece with its style from the table, and the
 * trailing blanks of a last piece in the default style dropped (with the
 * piece if nothing is left). */
static PyObject *
encode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "encode(row, styles)");
        return NULL;
    }
    PyObject *row = args[0], *table = args[1];
    PyObject **chars_slot = row_slot(row, s_chars), **ids_slot = row_slot(row, s_styles),
             **used_slot = row_slot(row, s_used);
    if (chars_slot == NULL || ids_slot == NULL || used_slot == NULL)
        Py_RETURN_NONE;
    PyObject *chars = *chars_slot, *ids = *ids_slot, *used_obj = *used_slot;
    if (chars == NULL || ids == NULL || used_obj == NULL || !PyList_Check(chars) || !PyList_Check(ids)
        || !PyLong_Check(used_obj) || PyList_GET_SIZE(chars) != PyList_GET_SIZE(ids))
        Py_RETURN_NONE;
    Py_ssize_t n = PyList_GET_SIZE(ids), used = PyLong_AsSsize_t(used_obj);
    if (used == -1 && PyErr_Occurred())
        return NULL;
    if (used < 0)
        Py_RETURN_NONE;
    if (used < n)
        n = used;  /* the cells from `used` on are default blanks */
    Run stack_runs[STACK_RUNS], *runs = stack_runs;
    Py_ssize_t count = 0, capacity = STACK_RUNS;
    PyObject *previous = NULL, *result = NULL;
    long sid = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *cell = PyList_GET_ITEM(chars, i), *id = PyList_GET_ITEM(ids, i);
        if (id != previous) {  /* neighbours usually share one int object */
            if (!PyLong_Check(id) || !PyUnicode_Check(cell))
                goto to_python;
            sid = PyLong_AsLong(id);
            if (sid == -1 && PyErr_Occurred())
                goto to_python;
            previous = id;
        } else if (!PyUnicode_Check(cell)) {
            goto to_python;
        }
        if (count == 0 || runs[count - 1].sid != sid) {
            if (count == capacity) {
                Run *more = PyMem_Malloc(sizeof(Run) * capacity * 2);
                if (more == NULL) {
                    PyErr_NoMemory();
                    goto done;
                }
                memcpy(more, runs, sizeof(Run) * count);
                if (runs != stack_runs)
                    PyMem_Free(runs);
                runs = more;
                capacity *= 2;
            }
            runs[count++] = (Run){i, i, 0, 0, sid};
        }
        Run *run = &runs[count - 1];
        run->end = i + 1;
        run->length += PyUnicode_GET_LENGTH(cell);
        if (PyUnicode_MAX_CHAR_VALUE(cell) > run->maxchar)
            run->maxchar = PyUnicode_MAX_CHAR_VALUE(cell);
    }
    Py_ssize_t table_size = PyList_GET_SIZE(table);
    for (Py_ssize_t r = 0; r < count; r++) {
        if (runs[r].sid < 0 || runs[r].sid >= table_size)
            goto to_python;  /* Python raises the IndexError */
        PyObject *style = PyList_GET_ITEM(table, runs[r].sid);
        if (!PyTuple_Check(style) || PyTuple_GET_SIZE(style) != 3)
            goto to_python;
    }
    /* the last run's trailing blanks, if its style is the default one */
    Py_ssize_t last_length = count ? runs[count - 1].length : 0;
    if (count) {
        int is_default = PyObject_RichCompareBool(PyList_GET_ITEM(table, runs[count - 1].sid), default_style, Py_EQ);
        if (is_default < 0)
            goto done;
        for (Py_ssize_t i = runs[count - 1].end - 1; is_default && i >= runs[count - 1].start; i--) {
            PyObject *cell = PyList_GET_ITEM(chars, i);
            Py_ssize_t k = PyUnicode_GET_LENGTH(cell);
            while (k > 0 && PyUnicode_READ_CHAR(cell, k - 1) == ' ') {
                k--;
                last_length--;
            }
            if (k > 0)
                break;
        }
        if (is_default && last_length == 0) {  /* the piece goes; the one before it keeps its blanks */
            count--;
            last_length = count ? runs[count - 1].length : 0;
        }
    }
    if ((result = PyList_New(count)) == NULL)
        goto done;
    for (Py_ssize_t r = 0; r < count; r++) {
        PyObject *style = PyList_GET_ITEM(table, runs[r].sid);
        PyObject *text = join_cells(chars, &runs[r], r == count - 1 ? last_length : runs[r].length);
        PyObject *item = text ? PyTuple_New(4) : NULL;
        if (item == NULL) {
            Py_XDECREF(text);
            Py_CLEAR(result);
            goto done;
        }
        PyTuple_SET_ITEM(item, 0, text);
        for (int k = 0; k < 3; k++)
            PyTuple_SET_ITEM(item, k + 1, Py_NewRef(PyTuple_GET_ITEM(style, k)));
        PyList_SET_ITEM(result, r, item);
    }
    goto done;
to_python:
    PyErr_Clear();
    result = Py_NewRef(Py_None);
done:
    if (runs != stack_runs)
        PyMem_Free(runs);
    return result;
}

/* setup(attr_on, attr_off, narrow, default, globals): per SGR code below
 * 30, the attribute bits it sets or clears (0 for none); the set of
 * characters known to be narrow; the (None, None, 0) tuple; terminal.py's
 * globals (for _MAX_STYLES, char_width); the _Row class. */
static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *on, *off, *narrow, *dflt, *globals, *row_class;
    if (!PyArg_ParseTuple(args, "O!O!O!O!O!O!", &PyTuple_Type, &on, &PyTuple_Type, &off,
                          &PySet_Type, &narrow, &PyTuple_Type, &dflt, &PyDict_Type, &globals,
                          &PyType_Type, &row_class))
        return NULL;
    for (int i = 0; i < 5; i++) {
        PyObject *descr = PyObject_GetAttr(row_class, *row_keys[i]);
        if (descr == NULL)
            return NULL;
        int is_member = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        if (is_member) {
            PyMemberDef *member = ((PyMemberDescrObject *)descr)->d_member;
            is_member = member->type == T_OBJECT_EX;
            row_offset[i] = member->offset;
        }
        Py_DECREF(descr);
        if (!is_member) {
            PyErr_Format(PyExc_TypeError, "setup(): %R is not a __slots__ field", *row_keys[i]);
            return NULL;
        }
    }
    Py_XSETREF(row_type, (PyTypeObject *)Py_NewRef(row_class));
    Py_XSETREF(module_globals, Py_NewRef(globals));
    Py_XSETREF(narrow_chars, Py_NewRef(narrow));
    Py_XSETREF(default_style, Py_NewRef(dflt));
    if (PyTuple_GET_SIZE(on) != SGR_TABLE || PyTuple_GET_SIZE(off) != SGR_TABLE) {
        PyErr_Format(PyExc_ValueError, "setup() needs tables of %d codes", SGR_TABLE);
        return NULL;
    }
    for (int i = 0; i < SGR_TABLE; i++) {
        attr_on[i] = PyLong_AsLong(PyTuple_GET_ITEM(on, i));
        attr_off[i] = PyLong_AsLong(PyTuple_GET_ITEM(off, i));
    }
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"scan", (PyCFunction)(void (*)(void))scan, METH_FASTCALL,
     "scan(terminal, data, pos) -> position of the first token left to Python"},
    {"encode", (PyCFunction)(void (*)(void))encode, METH_FASTCALL,
     "encode(row, styles) -> the row as runs (text, fg, bg, attrs), or None to leave it to Python"},
    {"setup", setup, METH_VARARGS, "setup(attr_on, attr_off, narrow, default, globals, row_class): terminal.py's tables"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fastterm", "The hot loop of Terminal.feed() in C.", -1, methods,
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__fastterm(void)
{
    INTERN(s_cursor_x, "cursor_x"); INTERN(s_cursor_y, "cursor_y");
    INTERN(s_wrap_pending, "_wrap_pending"); INTERN(s_insert, "_insert");
    INTERN(s_graphics, "_graphics"); INTERN(s_cols, "cols"); INTERN(s_rows, "rows");
    INTERN(s_top, "_top"); INTERN(s_bottom, "_bottom"); INTERN(s_origin, "_origin");
    INTERN(s_lines, "_lines"); INTERN(s_style, "_style"); INTERN(s_style_ids, "_style_ids");
    INTERN(s_fg, "_fg"); INTERN(s_bg, "_bg"); INTERN(s_attrs, "_attrs"); INTERN(s_blank, "_blank");
    INTERN(s_last_char, "_last_char"); INTERN(s_all_dirty, "_all_dirty"); INTERN(s_dirty, "_dirty");
    INTERN(s_chars, "chars"); INTERN(s_styles, "styles"); INTERN(s_used, "used"); INTERN(s_runs, "runs");
    INTERN(s_draw, "_draw"); INTERN(s_scroll_up, "_scroll_up"); INTERN(s_control, "_control");
    INTERN(s_csi, "_csi"); INTERN(s_pen, "_pen"); INTERN(s_intern, "_intern");
    INTERN(s_primary, "_primary"); INTERN(s_scrollback, "scrollback"); INTERN(s_history, "history");
    INTERN(s_pushed, "pushed"); INTERN(s_lines_of_history, "_lines"); INTERN(s_wrapped, "wrapped");
    INTERN(s_modes, "_modes"); INTERN(s_styles_table, "_styles"); INTERN(s_append, "append"); INTERN(s_max_styles, "_MAX_STYLES");
    INTERN(s_char_width, "char_width"); INTERN(s_draw_wide, "_draw_wide");
    INTERN(s_mode_app_cursor, "app_cursor"); INTERN(s_mode_app_keypad, "app_keypad");
    INTERN(s_mode_focus, "focus"); INTERN(s_mode_mouse_sgr, "mouse_sgr");
    INTERN(s_mode_bracketed_paste, "bracketed_paste"); INTERN(s_mode_sync, "sync"); INTERN(s_cursor_visible, "cursor_visible"); INTERN(s_autowrap, "_autowrap");
    INTERN(s_push_history, "_push_history"); INTERN(s_set_mode, "_set_mode");
    for (int c = 0; c < 256; c++)
        if ((latin1[c] = PyUnicode_FromOrdinal(c)) == NULL)
            return NULL;
    if ((other_widths = PyDict_New()) == NULL || (empty_str = PyUnicode_FromString("")) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    /* The source this was built from (setup.py's hash of this file): an editable install whose
       .so is older than its .c is found stale and not used (terminal.py). */
    if (m != NULL && PyModule_AddStringConstant(m, "source", FASTTERM_SOURCE) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
