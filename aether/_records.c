/* The common case of aether/records.py in C: building an Event from exact built-in values
 * within the limits, and freezing plain JSON data.
 *
 * Every function here either does exactly what its Python twin in aether/records.py or
 * aether/jsondata.py does, or answers "not sure" (0 / None) without touching its arguments,
 * and the Python code then decides (and, for anything it refuses, pydantic's validation).
 * So this module can only make the common case cheaper: it never accepts or refuses on its
 * own. tests/runtime/test_records_native.py holds it to its Python twins on hostile input.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <datetime.h>
#include <math.h>
#include <pthread.h>
#include <sys/random.h> /* getentropy: glibc 2.25+, macOS 10.12+ */

/* Set once by configure() (aether/records.py), all owned references. */
static PyObject *ABSENT, *NOTHING, *UTC_ZONE, *FIT_TYPES, *FIT_ACTORS;
static PyTypeObject *FROZEN_DICT, *FROZEN_LIST, *EVENT;
static PyObject *GIVEN[4]; /* the fields given, by (data given) * 2 + (metadata given) */
/* The descriptors of an Event's instance dict and slots: __dict__, __pydantic_fields_set__,
 * __pydantic_extra__, __pydantic_private__, _aether_json, _aether_checked. */
static PyObject *SETTERS[6];
static Py_ssize_t MAX_EVENT_ID_BYTES, MAX_EVENT_TYPE_BYTES, MAX_ACTOR_ID_BYTES, MAX_JSON_DEPTH;
static PyObject *KEYS[7]; /* id, event_type, actor_id, version, data, timestamp, metadata */
static PyObject *FROM_ISO_FORMAT; /* datetime.fromisoformat */
static int configured;

/* The frozen copies of Python data (Event(...)), checked against every limit. */
static PyObject *quick_dict(PyObject *source, Py_ssize_t depth);
static PyObject *quick_list(PyObject *source, Py_ssize_t depth);

/* 1: a scalar JSON value within the limits; 0: not sure; the containers are the callers'.
 * check: the limits on numbers (not for records read back from storage); parsed: the value
 * is what pydantic_core.from_json just built, whose text needs no check (the parser refuses
 * lone surrogates and bytes that are not UTF-8). */
static int
scalar_ok(PyObject *value, int check, int parsed)
{
    PyTypeObject *kind = Py_TYPE(value);
    if (kind == &PyUnicode_Type) {
        /* other text: the Python walk checks that it encodes */
        return parsed || PyUnicode_IS_ASCII(value);
    }
    if (kind == &PyLong_Type) {
        if (!check) {
            return 1;
        }
        int overflow;
        PyLong_AsLongLongAndOverflow(value, &overflow); /* the limits are 64-bit signed */
        if (PyErr_Occurred()) {
            PyErr_Clear();
            return 0;
        }
        return overflow == 0;
    }
    if (kind == &PyFloat_Type) {
        return isfinite(PyFloat_AS_DOUBLE(value));
    }
    return value == Py_None || kind == &PyBool_Type;
}

/* A frozen copy of a nested container, NULL and no error when not sure. */
static PyObject *
quick_child(PyObject *child, Py_ssize_t depth)
{
    PyTypeObject *kind = Py_TYPE(child);
    if (depth >= MAX_JSON_DEPTH) {
        return NULL;
    }
    if (kind == &PyDict_Type || kind == FROZEN_DICT) {
        return quick_dict(child, depth + 1);
    }
    if (kind == &PyList_Type || kind == FROZEN_LIST) {
        return quick_list(child, depth + 1);
    }
    return NULL;
}

/* One member of a container being frozen: a scalar it keeps (*inner stays NULL), or its
 * frozen copy in *inner; 0 means not sure (or an error is set). */
static int
quick_member(PyObject *child, Py_ssize_t depth, PyObject **inner)
{
    *inner = NULL;
    if (scalar_ok(child, 1, 0)) {
        return 1;
    }
    *inner = quick_child(child, depth);
    return *inner != NULL;
}

/* Frozen data and the Events holding it are immutable, so one whose members are all
 * scalars or untracked frozen containers can never become part of a reference cycle, and
 * the cyclic GC need not walk it: CPython untracks a plain dict or tuple of scalars for the
 * same reason. An application holding many events (the in-memory store, a read model's
 * rows) would otherwise pay for each of them, and each of their containers, in every full
 * collection: 100,000 orders' events took a full collection from 50 ms to 221 ms
 * (docs/performance.md). Only the mutators that FrozenDict and FrozenList refuse could add
 * a container later (dict's own insert would then track a dict again; a list's would not,
 * so a cycle made that way is never collected, a leak and nothing worse). */
static void
untrack_atoms(PyObject *frozen, int atoms_only)
{
    if (atoms_only && PyObject_GC_IsTracked(frozen)) {
        PyObject_GC_UnTrack(frozen);
    }
}

/* 1 when the cyclic GC does not walk ``value``: a scalar, or a container untracked. */
static int
untracked(PyObject *value)
{
    return !PyObject_GC_IsTracked(value);
}

/* Untrack a just-built Event and its field dict when every field is untracked (text,
 * numbers, the timestamp, frozen data of scalars): see untrack_atoms. Its slots hold only
 * None, a bool, the shared frozenset of the fields given and, later, its JSON bytes. */
static void
untrack_record(PyObject *event, PyObject *fields)
{
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(fields, &position, &key, &value)) {
        if (!untracked(value)) {
            return;
        }
    }
    untrack_atoms(fields, 1);
    untrack_atoms(event, 1);
}

/* jsondata._quick_dict: NULL without an error set means not sure. */
static PyObject *
quick_dict(PyObject *source, Py_ssize_t depth)
{
    PyObject *frozen = PyDict_Type.tp_new(FROZEN_DICT, NULL, NULL);
    if (frozen == NULL) {
        return NULL;
    }
    if (PyDict_Merge(frozen, source, 1) < 0) {
        Py_DECREF(frozen);
        return NULL;
    }
    Py_ssize_t position = 0;
    PyObject *key, *child;
    int atoms_only = 1;
    while (PyDict_Next(source, &position, &key, &child)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_ASCII(key)) {
            goto unsure;
        }
        PyObject *inner;
        if (!quick_member(child, depth, &inner)) {
            goto unsure;
        }
        atoms_only = atoms_only && (inner == NULL || untracked(inner));
        if (inner == NULL) {
            continue;
        }
        /* dict's own setitem (FrozenDict refuses its Python one), as _fill_dict */
        int failed = PyDict_SetItem(frozen, key, inner);
        Py_DECREF(inner);
        if (failed) {
            Py_DECREF(frozen);
            return NULL;
        }
    }
    untrack_atoms(frozen, atoms_only);
    return frozen;
unsure:
    Py_DECREF(frozen);
    return NULL;
}

static PyObject *
quick_list(PyObject *source, Py_ssize_t depth)
{
    PyObject *frozen = PyObject_CallOneArg((PyObject *)FROZEN_LIST, source);
    if (frozen == NULL) {
        return NULL;
    }
    Py_ssize_t size = PyList_GET_SIZE(frozen);
    int atoms_only = 1;
    for (Py_ssize_t index = 0; index < size; index++) {
        PyObject *child = PyList_GET_ITEM(frozen, index);
        PyObject *inner;
        if (!quick_member(child, depth, &inner)) {
            goto unsure;
        }
        atoms_only = atoms_only && (inner == NULL || untracked(inner));
        if (inner == NULL) {
            continue;
        }
        PyList_SET_ITEM(frozen, index, inner); /* list's own, as _set_list */
        Py_DECREF(child);
    }
    untrack_atoms(frozen, atoms_only);
    return frozen;
unsure:
    Py_DECREF(frozen);
    return NULL;
}

/* jsondata.freeze_text_map's common case: ASCII text to ASCII text; NULL: not sure. */
static PyObject *
quick_text_map(PyObject *value)
{
    Py_ssize_t position = 0;
    PyObject *key, *text;
    while (PyDict_Next(value, &position, &key, &text)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_CheckExact(text)
            || !PyUnicode_IS_ASCII(key) || !PyUnicode_IS_ASCII(text)) {
            return NULL;
        }
    }
    PyObject *frozen = PyDict_Type.tp_new(FROZEN_DICT, NULL, NULL);
    if (frozen != NULL && PyDict_Merge(frozen, value, 1) < 0) {
        Py_CLEAR(frozen);
    }
    if (frozen != NULL) {
        untrack_atoms(frozen, 1);
    }
    return frozen;
}

/* 1 when ``text`` is ASCII, printable, without edge spaces and 1 to ``limit`` characters
 * long: limits.header_text's ASCII case. */
static int
header_ascii(PyObject *text, Py_ssize_t limit)
{
    if (!PyUnicode_IS_ASCII(text)) {
        return 0;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    if (size == 0 || size > limit) {
        return 0;
    }
    const Py_UCS1 *chars = PyUnicode_1BYTE_DATA(text);
    if (chars[0] == ' ' || chars[size - 1] == ' ') {
        return 0;
    }
    for (Py_ssize_t index = 0; index < size; index++) {
        if (chars[index] < 0x20 || chars[index] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

/* 1 when ``name`` is in ``fit`` (limits.FIT_TYPES or FIT_ACTORS: names that fit). */
static int
remembered(PyObject *fit, PyObject *name)
{
    int known = PySet_Contains(fit, name);
    if (known < 0) {
        PyErr_Clear();
        return 0;
    }
    return known;
}

/* The common case of limits.names_fit: an id and a type of printable ASCII without edge
 * spaces, an ASCII actor id, each within its limit; other text when its name set holds it. */
static int
names_fit(PyObject *event_id, PyObject *event_type, PyObject *actor_id)
{
    if (!header_ascii(event_id, MAX_EVENT_ID_BYTES)) {
        return 0;
    }
    if (PyUnicode_IS_ASCII(event_type) ? !header_ascii(event_type, MAX_EVENT_TYPE_BYTES)
                                       : !remembered(FIT_TYPES, event_type)) {
        return 0;
    }
    if (PyUnicode_IS_ASCII(actor_id)) {
        Py_ssize_t size = PyUnicode_GET_LENGTH(actor_id);
        return size > 0 && size <= MAX_ACTOR_ID_BYTES; /* limits.check_actor_id */
    }
    return remembered(FIT_ACTORS, actor_id);
}

static int
put(int which, PyObject *record, PyObject *value)
{
    PyObject *descriptor = SETTERS[which];
    return Py_TYPE(descriptor)->tp_descr_set(descriptor, record, value);
}

/* Set an Event's fields and slots as records.fill_event_fields does; steals nothing. */
static int
put_event(PyObject *event, PyObject *const *values, PyObject *given, PyObject *checked)
{
    PyObject *fields = _PyDict_NewPresized(7);
    if (fields == NULL) {
        return -1;
    }
    for (int index = 0; index < 7; index++) {
        if (PyDict_SetItem(fields, KEYS[index], values[index]) < 0) {
            Py_DECREF(fields);
            return -1;
        }
    }
    int failed = put(0, event, fields) || put(1, event, given) || put(2, event, Py_None)
                 || put(3, event, Py_None) || put(4, event, Py_None)
                 || put(5, event, checked);
    if (!failed) {
        untrack_record(event, fields);
    }
    Py_DECREF(fields);
    return failed ? -1 : 0;
}

/* fill_event(event, id, event_type, actor_id, version, data, timestamp, metadata) -> bool:
 * records.fill_event_fields with check=True, for its common case only; False (event
 * untouched) means the Python function must decide. */
static PyObject *
fill_event(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8 || !configured) {
        PyErr_SetString(PyExc_TypeError, "fill_event takes 8 arguments, after configure()");
        return NULL;
    }
    PyObject *event = args[0], *event_id = args[1], *event_type = args[2];
    PyObject *actor_id = args[3], *version = args[4], *data = args[5];
    PyObject *timestamp = args[6], *metadata = args[7];
    if (!PyUnicode_CheckExact(event_id) || !PyUnicode_CheckExact(event_type)
        || !PyUnicode_CheckExact(actor_id) || !PyLong_CheckExact(version)
        || !PyDateTime_CheckExact(timestamp)) {
        Py_RETURN_FALSE;
    }
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(version, &overflow);
    if (overflow || number <= 0) { /* MAX_JSON_INT is the largest long long */
        Py_RETURN_FALSE;
    }
    /* fold=1 does not read back from JSON: the Python path makes it 0 */
    if (!names_fit(event_id, event_type, actor_id)
        || PyDateTime_DATE_GET_TZINFO(timestamp) != UTC_ZONE
        || PyDateTime_DATE_GET_FOLD(timestamp)) {
        Py_RETURN_FALSE;
    }
    PyObject *frozen_data, *frozen_metadata;
    if (data == ABSENT) {
        frozen_data = Py_NewRef(NOTHING);
    }
    else if (PyDict_CheckExact(data)) {
        frozen_data = quick_dict(data, 1);
        if (frozen_data == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_FALSE;
        }
    }
    else {
        Py_RETURN_FALSE;
    }
    if (metadata == ABSENT
        || ((PyDict_CheckExact(metadata) || Py_IS_TYPE(metadata, FROZEN_DICT))
            && PyDict_GET_SIZE(metadata) == 0)) {
        frozen_metadata = Py_NewRef(NOTHING);
    }
    else if (PyDict_CheckExact(metadata) || Py_IS_TYPE(metadata, FROZEN_DICT)) {
        frozen_metadata = quick_text_map(metadata);
        if (frozen_metadata == NULL) {
            Py_DECREF(frozen_data);
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_FALSE;
        }
    }
    else {
        Py_DECREF(frozen_data);
        Py_RETURN_FALSE;
    }
    PyObject *values[7] = {event_id, event_type, actor_id, version, frozen_data, timestamp,
                           frozen_metadata};
    int failed = put_event(event, values,
                           GIVEN[(data != ABSENT) * 2 + (metadata != ABSENT)], Py_True);
    Py_DECREF(frozen_data);
    Py_DECREF(frozen_metadata);
    if (failed) {
        return NULL;
    }
    Py_RETURN_TRUE;
}

/* 1 when the parsed container ``value`` (an exact dict or list) holds JSON within the
 * limits that freeze_parsed can freeze, 0 when the Python walk must decide; changes nothing. */
static int
parsed_ok(PyObject *value, Py_ssize_t depth, int check)
{
    Py_ssize_t position = 0, size = 0;
    PyObject *key, *child;
    int is_dict = PyDict_CheckExact(value);
    if (!is_dict) {
        size = PyList_GET_SIZE(value);
    }
    for (;;) {
        if (is_dict) {
            if (!PyDict_Next(value, &position, &key, &child)) {
                return 1;
            }
            if (!PyUnicode_CheckExact(key)) {
                return 0; /* from_json's keys are text; anything else is not its output */
            }
        }
        else {
            if (position >= size) {
                return 1;
            }
            child = PyList_GET_ITEM(value, position++);
        }
        if (scalar_ok(child, check, 1)) {
            continue;
        }
        if (!(PyDict_CheckExact(child) || PyList_CheckExact(child)) || depth >= MAX_JSON_DEPTH
            || !parsed_ok(child, depth + 1, check)) {
            return 0;
        }
    }
}

/* Freeze a parsed container that parsed_ok accepted where it is: from_json built it and no
 * one else holds it, and FrozenDict and FrozenList are dict and list with the same layout
 * (checked by configure), so it becomes one by its type alone, without a copy. A container
 * met twice (never in from_json's output, but a caller's dict may share one) is frozen once
 * and then left alone. Returns ``value``, borrowed. */
static PyObject *
freeze_parsed(PyObject *value)
{
    Py_ssize_t position = 0;
    PyObject *key, *child;
    int atoms_only = 1;
    if (PyDict_CheckExact(value)) {
        while (PyDict_Next(value, &position, &key, &child)) {
            atoms_only = untracked(freeze_parsed(child)) && atoms_only;
        }
        Py_SET_TYPE(value, (PyTypeObject *)Py_NewRef(FROZEN_DICT)); /* its instances own it */
        untrack_atoms(value, atoms_only);
    }
    else if (PyList_CheckExact(value)) {
        for (position = 0; position < PyList_GET_SIZE(value); position++) {
            atoms_only = untracked(freeze_parsed(PyList_GET_ITEM(value, position)))
                         && atoms_only;
        }
        Py_SET_TYPE(value, (PyTypeObject *)Py_NewRef(FROZEN_LIST));
        untrack_atoms(value, atoms_only);
    }
    return value;
}

/* 1 when every key of the dict ``value`` is exact text (comparing them runs no Python). */
static int
text_keys(PyObject *value)
{
    Py_ssize_t position = 0;
    PyObject *key, *child;
    while (PyDict_Next(value, &position, &key, &child)) {
        if (!PyUnicode_CheckExact(key)) {
            return 0;
        }
    }
    return 1;
}

/* 1 when ``key`` is the text ``name`` (an interned ASCII field name): the parser's keys are
 * its own objects, so most compare by their bytes, without PyUnicode_Compare's dispatch. */
static int
is_name(PyObject *key, PyObject *name)
{
    if (key == name) {
        return 1;
    }
    if (!PyUnicode_CheckExact(key) || !PyUnicode_IS_ASCII(key)) {
        return 0;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(key);
    return size == PyUnicode_GET_LENGTH(name)
           && memcmp(PyUnicode_1BYTE_DATA(key), PyUnicode_1BYTE_DATA(name), size) == 0;
}

/* The values of ``fields`` into ``values`` when its seven keys are the field names in field
 * order (as Aether writes them): 1, in one pass, so ``fields`` can be the Event's field dict;
 * 0 otherwise (``values`` then means nothing). */
static int
ordered_fields(PyObject *fields, PyObject **values)
{
    Py_ssize_t position = 0;
    PyObject *key;
    for (int index = 0; index < 7; index++) {
        if (!PyDict_Next(fields, &position, &key, &values[index])
            || !is_name(key, KEYS[index])) {
            return 0;
        }
    }
    return 1;
}

/* Two decimal digits at ``text``, or -1. */
static int
two_digits(const Py_UCS1 *text)
{
    if (text[0] < '0' || text[0] > '9' || text[1] < '0' || text[1] > '9') {
        return -1;
    }
    return (text[0] - '0') * 10 + (text[1] - '0');
}

/* datetime.fromisoformat(stamp) for the two forms Aether writes (pydantic's JSON of a UTC
 * datetime): YYYY-MM-DDTHH:MM:SSZ and YYYY-MM-DDTHH:MM:SS.ffffffZ. NULL and no error for
 * any other text, or a date or time that does not exist (fromisoformat then decides). */
static PyObject *
utc_stamp(PyObject *stamp)
{
    if (!PyUnicode_IS_ASCII(stamp)) {
        return NULL;
    }
    Py_ssize_t size = PyUnicode_GET_LENGTH(stamp);
    const Py_UCS1 *text = PyUnicode_1BYTE_DATA(stamp);
    if ((size != 20 && size != 27) || text[4] != '-' || text[7] != '-' || text[10] != 'T'
        || text[13] != ':' || text[16] != ':' || text[size - 1] != 'Z') {
        return NULL;
    }
    int century = two_digits(text), year = two_digits(text + 2), month = two_digits(text + 5);
    int day = two_digits(text + 8), hour = two_digits(text + 11);
    int minute = two_digits(text + 14), second = two_digits(text + 17);
    int micro = 0;
    if (size == 27) {
        if (text[19] != '.') {
            return NULL;
        }
        for (int index = 20; index < 26; index++) {
            if (text[index] < '0' || text[index] > '9') {
                return NULL;
            }
            micro = micro * 10 + (text[index] - '0');
        }
    }
    if (century < 0 || year < 0 || month < 0 || day < 0 || hour < 0 || minute < 0
        || second < 0) {
        return NULL;
    }
    PyObject *built = PyDateTimeAPI->DateTime_FromDateAndTime(
        century * 100 + year, month, day, hour, minute, second, micro, UTC_ZONE,
        PyDateTimeAPI->DateTimeType);
    if (built == NULL) {
        PyErr_Clear(); /* out of range (month 13, year 0): fromisoformat says so */
    }
    return built;
}

/* put_event with the parsed ``fields`` (in field order, its values those in ``values``) as
 * the Event's field dict: only the values that differ from those ``record`` holds are
 * written back (the timestamp, and empty containers given as the shared empty one). */
static int
reuse_fields(PyObject *event, PyObject *fields, PyObject *const *values,
             PyObject *const *record, PyObject *checked)
{
    for (int index = 0; index < 7; index++) {
        if (record[index] != values[index]
            && PyDict_SetItem(fields, KEYS[index], record[index]) < 0) {
            return -1;
        }
    }
    if (put(0, event, fields) || put(1, event, GIVEN[3]) || put(2, event, Py_None)
        || put(3, event, Py_None) || put(4, event, Py_None) || put(5, event, checked)) {
        return -1;
    }
    untrack_record(event, fields);
    return 0;
}

/* decode_event(fields, check) -> Event | None: records.decode_event for the Event class
 * itself, in its common case only: every field there, of its JSON type, a UTC timestamp.
 * ``fields`` is what pydantic_core.from_json parsed and is left as it is; None means the
 * Python function must decide (a dict subclass, which the parser never gives, included). */
static PyObject *
decode_event(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !configured || !PyDict_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "decode_event takes a dict and a bool");
        return NULL;
    }
    PyObject *fields = args[0];
    int check = PyObject_IsTrue(args[1]);
    if (check < 0) {
        return NULL;
    }
    if (!PyDict_CheckExact(fields) || PyDict_GET_SIZE(fields) != 7) {
        Py_RETURN_NONE;
    }
    PyObject *values[7];
    int ordered = ordered_fields(fields, values);
    if (!ordered && !text_keys(fields)) {
        Py_RETURN_NONE;
    }
    /* Exact text keys: the lookups below compare text only and run no Python code, so the
     * values stay in ``fields``; owned all the same, as ``fields`` is changed below. */
    for (int index = 0; !ordered && index < 7; index++) {
        values[index] = PyDict_GetItemWithError(fields, KEYS[index]);
        if (values[index] == NULL) {
            if (PyErr_Occurred()) {
                return NULL;
            }
            Py_RETURN_NONE;
        }
    }
    PyObject *event_id = values[0], *event_type = values[1], *actor_id = values[2];
    PyObject *version = values[3], *data = values[4], *stamp = values[5];
    PyObject *metadata = values[6];
    if (!PyUnicode_CheckExact(event_id) || !PyUnicode_CheckExact(event_type)
        || !PyUnicode_CheckExact(actor_id) || !PyLong_CheckExact(version)
        || !PyUnicode_CheckExact(stamp) || !PyDict_CheckExact(data)
        || !PyDict_CheckExact(metadata) || data == metadata) {
        Py_RETURN_NONE;
    }
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(version, &overflow);
    if (overflow < 0 || (overflow == 0 && number <= 0) || (overflow > 0 && check)) {
        Py_RETURN_NONE; /* unchecked, a positive version past 64 bits still reads back */
    }
    if (check ? !names_fit(event_id, event_type, actor_id)
              : (PyUnicode_GET_LENGTH(event_id) == 0 || PyUnicode_GET_LENGTH(event_type) == 0
                 || PyUnicode_GET_LENGTH(actor_id) == 0)) {
        Py_RETURN_NONE;
    }
    Py_ssize_t position = 0;
    PyObject *key, *text;
    while (PyDict_Next(metadata, &position, &key, &text)) {
        if (!PyUnicode_CheckExact(key) || !PyUnicode_CheckExact(text)) {
            Py_RETURN_NONE;
        }
    }
    if (!parsed_ok(data, 1, check)) {
        Py_RETURN_NONE;
    }
    /* as aether.event._parse_timestamp: datetime.fromisoformat */
    PyObject *timestamp = utc_stamp(stamp);
    if (timestamp == NULL) {
        timestamp = PyObject_CallOneArg(FROM_ISO_FORMAT, stamp);
    }
    if (timestamp == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
            return NULL;
        }
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    if (!PyDateTime_CheckExact(timestamp) || PyDateTime_DATE_GET_TZINFO(timestamp) != UTC_ZONE) {
        Py_DECREF(timestamp);
        Py_RETURN_NONE; /* another zone: the Python function checks its offset */
    }
    for (int index = 0; index < 7; index++) {
        Py_INCREF(values[index]);
    }
    /* Sure now: nothing below declines, so ``fields`` may change. The parsed containers are
     * frozen where they are, and ``fields`` itself becomes the Event's field dict when its
     * keys come in the fields' order (as Aether writes them). */
    PyObject *frozen_data = PyDict_GET_SIZE(data) ? freeze_parsed(data) : NOTHING;
    PyObject *frozen_metadata = PyDict_GET_SIZE(metadata) ? freeze_parsed(metadata) : NOTHING;
    PyObject *event = EVENT->tp_alloc(EVENT, 0); /* object.__new__(Event) */
    if (event != NULL) {
        PyObject *record[7] = {event_id, event_type, actor_id, version, frozen_data, timestamp,
                               frozen_metadata};
        int failed = ordered ? reuse_fields(event, fields, values, record,
                                            check ? Py_True : Py_False)
                             : put_event(event, record, GIVEN[3], check ? Py_True : Py_False);
        if (failed) {
            Py_CLEAR(event);
        }
    }
    for (int index = 0; index < 7; index++) {
        Py_DECREF(values[index]);
    }
    Py_DECREF(timestamp);
    return event;
}

/* configure(Event, ABSENT, NOTHING, UTC, FIT_TYPES, FIT_ACTORS, FrozenDict, FrozenList,
 * given, setters, max_event_id_bytes, max_event_type_bytes, max_actor_id_bytes,
 * max_json_depth): everything is checked before any of it replaces what a previous call
 * set, so a refused call leaves the module as it was. */
static PyObject *
configure(PyObject *module, PyObject *args)
{
    PyObject *event, *absent, *nothing, *zone, *types, *actors, *frozen_dict, *frozen_list;
    PyObject *given, *setters;
    Py_ssize_t max_id, max_type, max_actor, max_depth;
    if (!PyArg_ParseTuple(args, "O!OOOO!O!O!O!O!O!nnnn", &PyType_Type, &event, &absent,
                          &nothing, &zone, &PySet_Type, &types, &PySet_Type, &actors, &PyType_Type,
                          &frozen_dict, &PyType_Type, &frozen_list, &PyTuple_Type, &given,
                          &PyTuple_Type, &setters, &max_id, &max_type, &max_actor,
                          &max_depth)) {
        return NULL;
    }
    PyTypeObject *dict_kind = (PyTypeObject *)frozen_dict;
    PyTypeObject *list_kind = (PyTypeObject *)frozen_list;
    if (PyTuple_GET_SIZE(given) != 4 || PyTuple_GET_SIZE(setters) != 6 || max_id < 1
        || max_type < 1 || max_actor < 1 || max_depth < 1
        || !PyType_IsSubtype(dict_kind, &PyDict_Type)
        || !PyType_IsSubtype(list_kind, &PyList_Type)) {
        PyErr_SetString(PyExc_TypeError, "configure: unexpected arguments");
        return NULL;
    }
    if (dict_kind->tp_basicsize != PyDict_Type.tp_basicsize
        || list_kind->tp_basicsize != PyList_Type.tp_basicsize || dict_kind->tp_itemsize
        || list_kind->tp_itemsize || dict_kind->tp_dictoffset || list_kind->tp_dictoffset
        || dict_kind->tp_weaklistoffset || list_kind->tp_weaklistoffset) {
        /* freeze_parsed turns a dict into a FrozenDict by its type alone */
        PyErr_SetString(PyExc_TypeError, "configure: FrozenDict and FrozenList must add "
                                         "nothing to dict and list (__slots__ = ())");
        return NULL;
    }
    for (int index = 0; index < 6; index++) {
        if (Py_TYPE(PyTuple_GET_ITEM(setters, index))->tp_descr_set == NULL) {
            PyErr_SetString(PyExc_TypeError, "configure: a setter is no data descriptor");
            return NULL;
        }
    }
    PyObject *from_iso_format = PyObject_GetAttrString(
        (PyObject *)PyDateTimeAPI->DateTimeType, "fromisoformat");
    if (from_iso_format == NULL) {
        return NULL;
    }
    /* Sure now: replace what was set (Py_XSETREF drops the old reference last). */
    for (int index = 0; index < 6; index++) {
        Py_XSETREF(SETTERS[index], Py_NewRef(PyTuple_GET_ITEM(setters, index)));
    }
    for (int index = 0; index < 4; index++) {
        Py_XSETREF(GIVEN[index], Py_NewRef(PyTuple_GET_ITEM(given, index)));
    }
    Py_XSETREF(FROM_ISO_FORMAT, from_iso_format);
    Py_XSETREF(EVENT, (PyTypeObject *)Py_NewRef(event));
    Py_XSETREF(ABSENT, Py_NewRef(absent));
    Py_XSETREF(NOTHING, Py_NewRef(nothing));
    untrack_atoms(nothing, PyDict_Check(nothing) && PyDict_GET_SIZE(nothing) == 0);
    Py_XSETREF(UTC_ZONE, Py_NewRef(zone));
    Py_XSETREF(FIT_TYPES, Py_NewRef(types));
    Py_XSETREF(FIT_ACTORS, Py_NewRef(actors));
    Py_XSETREF(FROZEN_DICT, (PyTypeObject *)Py_NewRef(frozen_dict));
    Py_XSETREF(FROZEN_LIST, (PyTypeObject *)Py_NewRef(frozen_list));
    MAX_EVENT_ID_BYTES = max_id;
    MAX_EVENT_TYPE_BYTES = max_type;
    MAX_ACTOR_ID_BYTES = max_actor;
    MAX_JSON_DEPTH = max_depth;
    configured = 1;
    Py_RETURN_NONE;
}

/* ---- new ids -------------------------------------------------------------------------
 * A command makes two ids (its command id and its event's id); os.urandom is a system
 * call each, 4% of what a new order costs on the memory store. These read the
 * kernel's random bytes 256 at a time (getentropy's most) and hand them out in order. A
 * forked child must not hand out what its parent does: pthread_atfork empties the pool in
 * the child (tests/runtime/test_records_native.py forks to check). */
static unsigned char POOL[256];
static size_t POOL_USED = sizeof POOL;

static void
empty_pool(void)
{
    POOL_USED = sizeof POOL;
}

static int
random_bytes(unsigned char *out, size_t size)
{
    if (POOL_USED + size > sizeof POOL) {
        if (getentropy(POOL, sizeof POOL) != 0) {
            PyErr_SetFromErrno(PyExc_OSError);
            return -1;
        }
        POOL_USED = 0;
    }
    memcpy(out, POOL + POOL_USED, size);
    memset(POOL + POOL_USED, 0, size); /* handed out: not kept in memory */
    POOL_USED += size;
    return 0;
}

static const char HEX[] = "0123456789abcdef";

/* records.new_event_id: a version 4 UUID in canonical text, as str(uuid.uuid4()). */
static PyObject *
new_event_id(PyObject *module, PyObject *unused)
{
    unsigned char bytes[16];
    if (random_bytes(bytes, sizeof bytes) < 0) {
        return NULL;
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40; /* the version: 4 */
    bytes[8] = (bytes[8] & 0x3f) | 0x80; /* the variant: RFC 4122 */
    PyObject *text = PyUnicode_New(36, 127);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (int index = 0; index < 16; index++) {
        if (index == 4 || index == 6 || index == 8 || index == 10) {
            *out++ = '-';
        }
        *out++ = HEX[bytes[index] >> 4];
        *out++ = HEX[bytes[index] & 15];
    }
    return text;
}

/* records.new_command_id: 128 random bits as 32 hex digits, as os.urandom(16).hex(). */
static PyObject *
new_command_id(PyObject *module, PyObject *unused)
{
    unsigned char bytes[16];
    if (random_bytes(bytes, sizeof bytes) < 0) {
        return NULL;
    }
    PyObject *text = PyUnicode_New(32, 127);
    if (text == NULL) {
        return NULL;
    }
    Py_UCS1 *out = PyUnicode_1BYTE_DATA(text);
    for (int index = 0; index < 16; index++) {
        *out++ = HEX[bytes[index] >> 4];
        *out++ = HEX[bytes[index] & 15];
    }
    return text;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS, "Hand over the Python objects the builders use."},
    {"fill_event", (PyCFunction)(void (*)(void))fill_event, METH_FASTCALL,
     "records.fill_event_fields' common case (check=True); False: let Python decide."},
    {"decode_event", (PyCFunction)(void (*)(void))decode_event, METH_FASTCALL,
     "records.decode_event's common case for Event; None: let Python decide."},
    {"new_event_id", new_event_id, METH_NOARGS, "A new random (version 4) UUID, as text."},
    {"new_command_id", new_command_id, METH_NOARGS, "128 new random bits as 32 hex digits."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "aether._records", NULL, -1, methods,
};

PyMODINIT_FUNC
PyInit__records(void)
{
    PyDateTime_IMPORT;
    if (PyDateTimeAPI == NULL) {
        return NULL;
    }
    const char *names[7] = {"id", "event_type", "actor_id", "version", "data", "timestamp",
                            "metadata"};
    for (int index = 0; index < 7; index++) {
        KEYS[index] = PyUnicode_InternFromString(names[index]);
        if (KEYS[index] == NULL) {
            return NULL;
        }
    }
    if (pthread_atfork(NULL, NULL, empty_pool) != 0) {
        PyErr_SetString(PyExc_OSError, "pthread_atfork failed");
        return NULL;
    }
    return PyModule_Create(&module_def);
}
