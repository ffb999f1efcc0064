/* mvvm.embed's fast path for a call into the guest (built by mvvm/embed/fastcall.py).
 *
 * A GuestFunction called with a few int arguments, no budget and no time limit does what
 * Machine._enter, VM.call and _result do in Python, here: the argument registers, sp,
 * gp, tp, ra and pc into the VM state, one call of the dispatcher through wasmtime's
 * unchecked entry point (the GIL released meanwhile, as ctypes does), and a0 if it came
 * back at the return address. Anything else is Python's to finish: a trap, an error, or
 * the dispatcher leaving for Python on the way (a syscall, a miss) returns None with the
 * VM state as the dispatcher left it; arguments it does not take return NotImplemented
 * before anything is touched. The pointers are the VM's and the runtime's, which outlive
 * the object (Machine keeps both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>

#define ARGUMENT_REGISTERS 8
#define A0 10

typedef struct {
    uint64_t low, high;         /* wasmtime_val_raw_t: a 16-byte union */
} val_raw;

/* wasmtime_func_call_unchecked(store context, func, args_and_results, count, trap_out) */
typedef void *(*call_unchecked)(void *, void *, val_raw *, size_t, void **);

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    call_unchecked call;
    void *context, *func;
    val_raw *values;            /* the runtime's arguments-and-results array */
    void **trap, **error;       /* where the call's trap, and its error, are left */
    uint64_t *x, *pc;           /* the VM state: x0..x31, and pc */
    uint32_t *reason;           /* why the dispatcher left */
    const uint64_t *frame;      /* sp, gp, tp for a call (the Machine's, which may change) */
    uint64_t entry, return_address;
    uint32_t miss;              /* layout.REASON_MISS: how a return to return_address ends */
} FastCall;

static PyObject *fastcall_call(PyObject *self, PyObject *const *argv, size_t nargsf,
                               PyObject *kwnames)
{
    FastCall *f = (FastCall *)self;
    Py_ssize_t count = PyVectorcall_NARGS(nargsf);
    uint64_t values[ARGUMENT_REGISTERS];
    if (kwnames != NULL || count > ARGUMENT_REGISTERS)
        Py_RETURN_NOTIMPLEMENTED;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (!PyLong_CheckExact(argv[i]))
            Py_RETURN_NOTIMPLEMENTED;
        values[i] = PyLong_AsUnsignedLongLongMask(argv[i]);    /* & (2**64 - 1) */
        if (values[i] == (uint64_t)-1 && PyErr_Occurred())
            return NULL;
    }
    uint64_t *x = f->x;
    for (Py_ssize_t i = 0; i < count; i++)
        x[A0 + i] = values[i];
    x[2] = f->frame[0];
    x[3] = f->frame[1];
    x[4] = f->frame[2];
    x[1] = f->return_address;
    *f->pc = f->entry;
    *f->trap = NULL;
    void *error;
    Py_BEGIN_ALLOW_THREADS
    error = f->call(f->context, f->func, f->values, 1, f->trap);
    Py_END_ALLOW_THREADS
    *f->error = error;
    if (error != NULL || *f->trap != NULL)
        Py_RETURN_NONE;
    uint64_t pc = f->values[0].low & ~(uint64_t)1;
    *f->pc = pc;
    if (*f->reason != f->miss || pc != f->return_address)
        Py_RETURN_NONE;
    return PyLong_FromLongLong((long long)x[A0]);
}

static int fastcall_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    FastCall *f = (FastCall *)self;
    (void)kwargs;
    unsigned long long call, context, func, values, trap, error, x, pc, reason, frame, entry,
        return_address;
    unsigned int miss;
    if (!PyArg_ParseTuple(args, "KKKKKKKKKKKKI", &call, &context, &func, &values, &trap,
                          &error, &x, &pc, &reason, &frame, &entry, &return_address, &miss))
        return -1;
    f->call = (call_unchecked)(uintptr_t)call;
    f->context = (void *)(uintptr_t)context;
    f->func = (void *)(uintptr_t)func;
    f->values = (val_raw *)(uintptr_t)values;
    f->trap = (void **)(uintptr_t)trap;
    f->error = (void **)(uintptr_t)error;
    f->x = (uint64_t *)(uintptr_t)x;
    f->pc = (uint64_t *)(uintptr_t)pc;
    f->reason = (uint32_t *)(uintptr_t)reason;
    f->frame = (const uint64_t *)(uintptr_t)frame;
    f->entry = entry;
    f->return_address = return_address;
    f->miss = miss;
    f->vectorcall = fastcall_call;
    return 0;
}

static PyTypeObject FastCallType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "mvvm_fastcall.FastCall",
    .tp_basicsize = sizeof(FastCall),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(FastCall, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_new = PyType_GenericNew,
    .tp_init = fastcall_init,
    .tp_doc = "One guest function's fast call: see mvvm/embed/fastcall.c.",
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "mvvm_fastcall", .m_size = -1,
};

PyMODINIT_FUNC PyInit_mvvm_fastcall(void)
{
    if (PyType_Ready(&FastCallType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&FastCallType);
    if (PyModule_AddObject(m, "FastCall", (PyObject *)&FastCallType) < 0) {
        Py_DECREF(&FastCallType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
