# C types of TimeHeap for the compiled build (setup.py): three typed views over its arrays, C sifting loops.
import cython

cdef class TimeHeap:
    cdef public object ta, ea, pa
    cdef double[::1] t
    cdef long long[::1] e
    cdef long long[::1] p
    cdef public Py_ssize_t n

    @cython.locals(i=cython.Py_ssize_t, up=cython.Py_ssize_t, tu=cython.double,
                   ts="double[::1]", es="long long[::1]")
    cpdef void push(self, double t, long long e, long long p)

    @cython.locals(first=cython.longlong, n=cython.Py_ssize_t, i=cython.Py_ssize_t, c=cython.Py_ssize_t,
                   t=cython.double, e=cython.longlong, p=cython.longlong, tc=cython.double,
                   ts="double[::1]", es="long long[::1]", ps="long long[::1]")
    cpdef long long pop(self)

    cpdef void _grow(self)
    cdef inline void _move(self, Py_ssize_t src, Py_ssize_t dst)
    cdef inline void _put(self, Py_ssize_t i, double t, long long e, long long p)
