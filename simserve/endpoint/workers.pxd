# Types of ``Worker``'s fields for the compiled build (setup.py): Cython compiles workers.py into an extension
# type with these fields, which the compiled ``sim/hotloop.py`` reads and writes as C struct members. Every
# field stays a Python attribute (``public``); a typed one takes only its type (an int field takes an int or
# an IntEnum, a float field any real number). Keep this list in step with ``Worker.__slots__``.
import cython

cdef class Worker:
    cdef public Py_ssize_t wid
    cdef public object kind
    cdef public bint is_flex
    cdef public Py_ssize_t seq
    cdef public object host
    cdef public object state
    cdef public int phase
    cdef public set running
    cdef public bint in_free
    cdef public Py_ssize_t free_epoch
    cdef public double idle_since
    cdef public bint expiry_pending
    cdef public double stopped_at
    cdef public Py_ssize_t epoch
    cdef public list bound
    cdef public bint retired
    cdef public object version
    cdef public Py_ssize_t crash_epoch
    cdef public bint parked
    cdef public Py_ssize_t stop_seq
    cdef public bint drain
    cdef public bint retire_on_drain
    cdef public bint init_fail
    cdef public Py_ssize_t fails
    cdef public double first_fail_s
    cdef public bint dropped
    cdef public Py_ssize_t concurrency
    cdef public bint concurrency_set
    cdef public bint refresh_due
    cdef public double[::1] flips
    cdef public Py_ssize_t nflips

    @cython.locals(n=cython.Py_ssize_t)
    cpdef void add_flip(self, double t)
    cpdef void keep_last_flip(self)
