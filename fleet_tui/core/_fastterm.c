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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* Interned attribute and method names. */
static PyObject *s_cursor_x, *s_cursor_y, *s_wrap_pending, *s_insert, *s_graphics,
    *s_cols, *s_rows, *s_top, *s_bottom, *s_origin, *s_lines, *s_style, *s_style_ids,
    *s_fg, *s_bg, *s_attrs, *s_blank, *s_last_char, *s_all_dirty, *s_dirty,
    *s_chars, *s_styles, *s_used, *s_runs,
    *s_primary, *s_scrollback, *s_history, *s_pushed, *s_lines_of_history, *s_wrapped,
    *s_append, *s_styles_table, *s_modes, *s_cursor_visible, *s_autowrap,
    *s_draw, *s_scroll_up, *s_control, *s_csi, *s_pen, *s_intern, *s_push_history, *s_set_mode;
/* From terminal.py (setup()): characters known to be one cell wide, and the
 * default style tuple history lines share. */
static PyObject *narrow_chars, *default_style;

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

static int
get_long(PyObject *d, PyObject *key, long long *out)
{
    PyObject *v = get(d, key);
    if (v == NULL)
        return -1;
    *out = PyLong_AsLongLong(v);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static int
get_bool(PyObject *d, PyObject *key, int *out)
{
    PyObject *v = get(d, key);
    if (v == NULL)
        return -1;
    *out = PyObject_IsTrue(v);
    return *out < 0 ? -1 : 0;
}

static int
set_long(PyObject *d, PyObject *key, long long value)
{
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
    return PyDict_SetItem(d, key, value ? Py_True : Py_False);
}

/* Call term.<name>(arg) (arg may be NULL for no argument), dropping the result. */
static int
call(PyObject *self, PyObject *name, PyObject *arg)
{
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

/* The characters _TOKEN reads as text: everything but C0, DEL and C1. */
static inline int
printable(Py_UCS4 c)
{
    return c >= 0x20 && !(c >= 0x7f && c <= 0x9f);
}

/* ----------------------------------------------------------- drawing */

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
    PyObject *ids = get(d, s_style_ids);
    if (!fg || !bg || !attrs || !ids)
        return NULL;
    PyObject *key = PyTuple_Pack(3, fg, bg, attrs);
    if (key == NULL)
        return NULL;
    PyObject *sid = PyDict_GetItemWithError(ids, key);
    Py_DECREF(key);
    if (sid == NULL) {
        if (PyErr_Occurred())
            return NULL;
        return PyObject_CallMethodNoArgs(self, s_pen);  /* interns it (may compact) */
    }
    if (PyDict_SetItem(d, s_style, sid) < 0)
        return NULL;
    Py_INCREF(sid);
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

/* The text data[start:end] (no controls in it), as Terminal._draw() would
 * write it.  Only Terminal._put()'s common case is done here: ASCII, not
 * line drawing, no insert mode, no wrap pending, ending before the last
 * column.  Everything else goes to _draw(). */
static int
draw(PyObject *self, PyObject *d, PyObject *data, int kind, const void *buf,
     Py_ssize_t start, Py_ssize_t end, int ascii)
{
    int graphics, wrap_pending, insert;
    long long cols, x, y;
    Py_ssize_t n = end - start;
    PyObject *row = NULL, *chars = NULL, *styles = NULL, *style = NULL;
    int rc = -1;

    if (get_bool(d, s_graphics, &graphics) < 0 || get_bool(d, s_wrap_pending, &wrap_pending) < 0
        || get_bool(d, s_insert, &insert) < 0 || get_long(d, s_cols, &cols) < 0
        || get_long(d, s_cursor_x, &x) < 0 || get_long(d, s_cursor_y, &y) < 0)
        return -1;
    if (graphics || wrap_pending || insert || x < 0 || x + n >= cols)
        goto in_python;
    if (!ascii) {
        /* _draw() writes text whose characters are all in _NARROW with _put() */
        for (Py_ssize_t i = start; i < end; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, buf, i);
            if (c < 0x80)
                continue;
            PyObject *ch = PyUnicode_FromOrdinal(c);
            int known = ch ? PySet_Contains(narrow_chars, ch) : -1;
            Py_XDECREF(ch);
            if (known < 0)
                return -1;
            if (!known)
                goto in_python;
        }
    }
    /* From here on, exactly Terminal._put()'s fast path. */
    PyObject *last = PyUnicode_FromOrdinal(PyUnicode_READ(kind, buf, end - 1));
    if (last == NULL)
        return -1;
    int failed = PyDict_SetItem(d, s_last_char, last);
    Py_DECREF(last);
    /* pen() may run Python (interning can compact the style table, which
     * replaces rows' style lists): the row is looked up after it */
    if (failed || (style = pen(self, d)) == NULL)
        return -1;
    PyObject *lines = get(d, s_lines);
    if (lines == NULL)
        goto done;
    if (!PyList_Check(lines) || y < 0 || y >= PyList_GET_SIZE(lines))
        goto in_python;
    row = PyList_GET_ITEM(lines, y);
    Py_INCREF(row);
    chars = PyObject_GetAttr(row, s_chars);
    styles = chars ? PyObject_GetAttr(row, s_styles) : NULL;
    if (styles == NULL)
        goto done;
    /* cells x .. x+n inclusive are read below; a row of another size than
     * the screen's (never expected) goes the general way */
    if (!PyList_Check(chars) || !PyList_Check(styles) || PyList_GET_SIZE(chars) <= x + n
        || PyList_GET_SIZE(styles) <= x + n)
        goto in_python;
    PyObject *space = PyUnicode_FromOrdinal(' ');  /* a cached single-character str */
    if (space == NULL)
        goto done;
    if (x > 0 && is_empty_cell(PyList_GET_ITEM(chars, x)))
        list_set(chars, x - 1, space);  /* overwriting the right half of a wide char */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ch = PyUnicode_FromOrdinal(PyUnicode_READ(kind, buf, start + i));
        if (ch == NULL) {
            Py_DECREF(space);
            goto done;
        }
        list_set(chars, x + i, ch);
        Py_DECREF(ch);
        list_set(styles, x + i, style);
    }
    if (is_empty_cell(PyList_GET_ITEM(chars, x + n)))
        list_set(chars, x + n, space);  /* overwrote the left half of a wide char */
    Py_DECREF(space);

    PyObject *used_obj = PyObject_GetAttr(row, s_used);
    if (used_obj == NULL)
        goto done;
    long long used = PyLong_AsLongLong(used_obj);
    Py_DECREF(used_obj);
    if (used == -1 && PyErr_Occurred())
        goto done;
    if (x + n > used) {
        PyObject *v = PyLong_FromLongLong(x + n);
        if (v == NULL)
            goto done;
        failed = PyObject_SetAttr(row, s_used, v);
        Py_DECREF(v);
        if (failed)
            goto done;
    }
    if (PyObject_SetAttr(row, s_runs, Py_None) < 0)
        goto done;
    int all_dirty;
    if (get_bool(d, s_all_dirty, &all_dirty) < 0)
        goto done;
    if (!all_dirty) {
        PyObject *dirty = get(d, s_dirty), *yo = PyLong_FromLongLong(y);
        failed = dirty == NULL || yo == NULL || PySet_Add(dirty, yo) < 0;
        Py_XDECREF(yo);
        if (failed)
            goto done;
    }
    rc = set_long(d, s_cursor_x, x + n);
done:
    Py_XDECREF(row);
    Py_XDECREF(chars);
    Py_XDECREF(styles);
    Py_XDECREF(style);
    return rc;

in_python:
    /* setting _last_char and interning the pen again there is harmless */
    Py_CLEAR(row);
    Py_CLEAR(chars);
    Py_CLEAR(styles);
    Py_CLEAR(style);
    PyObject *text = PyUnicode_Substring(data, start, end);
    if (text == NULL)
        return -1;
    rc = call(self, s_draw, text);
    Py_DECREF(text);
    return rc;
}

/* Add (text, style) to term.history, as History.append() of one piece does. */
static int
history_add(PyObject *d, PyObject *text, PyObject *style)
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
    PyObject *entry = kept ? PyTuple_Pack(2, text, style) : NULL;
    PyObject *r = entry ? PyObject_CallMethodOneArg(kept, s_append, entry) : NULL;
    Py_XDECREF(kept);
    Py_XDECREF(entry);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Terminal._push_history(row) for rows in one style; others go to Python. */
static int
push_history(PyObject *self, PyObject *d, PyObject *row)
{
    PyObject *chars = PyObject_GetAttr(row, s_chars), *ids = NULL, *used_obj = NULL, *text = NULL;
    int rc = -1;
    if (chars == NULL || (ids = PyObject_GetAttr(row, s_styles)) == NULL
        || (used_obj = PyObject_GetAttr(row, s_used)) == NULL)
        goto done;
    Py_ssize_t used = PyLong_AsSsize_t(used_obj);
    if (used == -1 && PyErr_Occurred())
        goto done;
    if (!PyList_Check(chars) || !PyList_Check(ids) || used < 0 || used > PyList_GET_SIZE(chars)
        || used > PyList_GET_SIZE(ids)) {
        rc = call(self, s_push_history, row);
        goto done;
    }
    if (used == 0) {
        PyObject *empty = PyUnicode_New(0, 0);
        rc = empty ? history_add(d, empty, default_style) : -1;
        Py_XDECREF(empty);
        goto done;
    }
    PyObject *first = PyList_GET_ITEM(ids, 0);
    for (Py_ssize_t i = 1; i < used; i++) {
        int same = PyObject_RichCompareBool(PyList_GET_ITEM(ids, i), first, Py_EQ);
        if (same < 0)
            goto done;
        if (!same) {  /* several styles: cut into runs in Python */
            rc = call(self, s_push_history, row);
            goto done;
        }
    }
    PyObject *part = PyList_GetSlice(chars, 0, used), *empty = PyUnicode_New(0, 0);
    text = part && empty ? PyUnicode_Join(empty, part) : NULL;
    Py_XDECREF(part);
    Py_XDECREF(empty);
    if (text == NULL)
        goto done;
    long sid = PyLong_AsLong(first);
    if (sid == -1 && PyErr_Occurred())
        goto done;
    if (sid == 0) {  /* the default style: trailing blanks dropped */
        int kind = PyUnicode_KIND(text);
        const void *buf = PyUnicode_DATA(text);
        Py_ssize_t n = PyUnicode_GET_LENGTH(text);
        while (n > 0 && PyUnicode_READ(kind, buf, n - 1) == ' ')
            n--;
        PyObject *stripped = PyUnicode_Substring(text, 0, n);
        rc = stripped ? history_add(d, stripped, default_style) : -1;
        Py_XDECREF(stripped);
    } else {
        PyObject *table = get(d, s_styles_table);
        PyObject *style = table ? PySequence_GetItem(table, sid) : NULL;
        rc = style ? history_add(d, text, style) : -1;
        Py_XDECREF(style);
    }
done:
    Py_XDECREF(chars);
    Py_XDECREF(ids);
    Py_XDECREF(used_obj);
    Py_XDECREF(text);
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
    if ((chars = PyObject_GetAttr(row, s_chars)) == NULL || (styles = PyObject_GetAttr(row, s_styles)) == NULL
        || (used_obj = PyObject_GetAttr(row, s_used)) == NULL)
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
        int failed = !space || !zero || PyObject_SetAttr(row, s_used, zero) < 0;
        Py_XDECREF(zero);
        if (failed)
            goto done;
    }
    if (PyObject_SetAttr(row, s_wrapped, Py_False) < 0 || PyObject_SetAttr(row, s_runs, Py_None) < 0
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
    char text[8];
    snprintf(text, sizeof text, "#%02x%02x%02x", (int)p[0].value, (int)p[1].value, (int)p[2].value);
    return PyUnicode_FromStringAndSize(text, 7);
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
        PyObject *ids = get(d, s_style_ids);
        PyObject *sid = ids ? PyDict_GetItemWithError(ids, key) : NULL;
        if (sid != NULL) {
            Py_INCREF(sid);
        } else if (!PyErr_Occurred()) {
            sid = PyObject_CallMethodOneArg(self, s_intern, key);
        }
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

/* A CSI starting at data[pos] (ESC [).  Returns 1 and sets *next when it was
 * handled, 0 to leave it to Python (cut off, malformed), -1 on error. */
static int
csi(PyObject *self, PyObject *d, PyObject *data, int kind, const void *buf,
    Py_ssize_t pos, Py_ssize_t len, Py_ssize_t *next)
{
    Py_ssize_t p = pos + 2, params_start = p;
    int plain = 1;  /* parameters are digits and semicolons only */
    while (p < len) {
        Py_UCS4 c = PyUnicode_READ(kind, buf, p);
        if (c < 0x30 || c > 0x3f)
            break;
        if (c > ';' || c == ':')
            plain = 0;
        p++;
    }
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

    if (plain && final == 'm')
        return sgr(self, d, parts, nparts) < 0 ? -1 : 1;
    /* _ints(""): no arguments at all */
    if (plain && strchr("GABCDHf`da", (int)final) != NULL)
        return move(d, final, parts, params_end == params_start ? 0 : nparts) < 0 ? -1 : 1;

    /* the general dispatch, as the Python loop calls it */
    PyObject *params = PyUnicode_Substring(data, params_start, params_end);
    PyObject *inter = params ? PyUnicode_Substring(data, params_end, inter_end) : NULL;
    PyObject *fin = inter ? PyUnicode_FromOrdinal(final) : NULL;
    PyObject *r = NULL;
    if (fin != NULL) {
        /* the Python loop sends SGR to _sgr directly; _csi does the same for it */
        PyObject *args[] = {self, params, inter, fin};
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
    int kind = PyUnicode_KIND(data);
    const void *buf = PyUnicode_DATA(data);
    Py_ssize_t len = PyUnicode_GET_LENGTH(data);
    if (pos < 0)
        pos = 0;

    while (pos < len) {
        Py_UCS4 c = PyUnicode_READ(kind, buf, pos);
        if (printable(c)) {
            Py_ssize_t end = pos + 1;
            int ascii = c < 0x80;
            while (end < len) {
                Py_UCS4 e = PyUnicode_READ(kind, buf, end);
                if (!printable(e))
                    break;
                ascii &= e < 0x80;
                end++;
            }
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
    Py_DECREF(d);
    return PyLong_FromSsize_t(pos);
error:
    Py_DECREF(d);
    return NULL;
}

/* setup(attr_on, attr_off, narrow, default): per SGR code below 30, the
 * attribute bits it sets or clears (0 for none); the set of characters known
 * to be narrow; the (None, None, 0) tuple. */
static PyObject *
setup(PyObject *module, PyObject *args)
{
    PyObject *on, *off, *narrow, *dflt;
    if (!PyArg_ParseTuple(args, "O!O!O!O!", &PyTuple_Type, &on, &PyTuple_Type, &off,
                          &PySet_Type, &narrow, &PyTuple_Type, &dflt))
        return NULL;
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
    {"setup", setup, METH_VARARGS, "setup(attr_on, attr_off, narrow, default): terminal.py's tables"},
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
    INTERN(s_modes, "_modes"); INTERN(s_styles_table, "_styles"); INTERN(s_append, "append"); INTERN(s_cursor_visible, "cursor_visible"); INTERN(s_autowrap, "_autowrap");
    INTERN(s_push_history, "_push_history"); INTERN(s_set_mode, "_set_mode");
    return PyModule_Create(&module);
}
