# Types of run_hot's local names for the compiled build (setup.py): Cython compiles hotloop.py with these
# as C variables (times as doubles, indexes and counts as C integers, the job record arrays as typed
# memoryviews, the worker as the ``Worker`` extension type of ``endpoint/workers.pxd``). The module's
# Python source is unchanged by them and runs as it is where nothing is compiled.
import cython
from simserve.endpoint.workers cimport Worker
from simserve.sim.timeheap cimport TimeHeap

cdef int BUSY, WARM, IN_PROGRESS, COMPLETED

@cython.locals(now=cython.double, t=cython.double, next_arr=cython.double, left=cython.double, limit=cython.double,
               s=cython.double, arrived=cython.double, ttl=cython.double, exec_timeout=cython.double,
               until=cython.double, qttl=cython.double,
               i=cython.Py_ssize_t, n=cython.Py_ssize_t, seg=cython.Py_ssize_t, base=cython.Py_ssize_t,
               j=cython.Py_ssize_t, h=cython.Py_ssize_t, dip=cython.Py_ssize_t, dfree=cython.Py_ssize_t,
               w=Worker, arriving=cython.bint, running=set, q=list, fheap=list, qlist=list, by_seq=dict,
               start_s="double[::1]", end_s="double[::1]", status="unsigned char[::1]", arr="double[::1]", svc="double[::1]", qarr="double[::1]",
               job_worker=list, workers=list, ph=cython.int, pending=list, job_token=dict, queues=cython.bint,
               expires=tuple, compiled=cython.bint, ch=TimeHeap, src=cython.int, tc=cython.double)
cpdef run_hot(env, core, double[::1] arrival_s, double until, refill=*)
