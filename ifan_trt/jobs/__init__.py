"""The jobs: each thing a user does that crosses floors (export, prepare a precision, build an
engine, benchmark, deblur files, serve, profile, evaluate, the live demo) as one function that
takes a frozen request and returns a typed result. The commands turn flags into these requests
(their `names` make messages name the flags); the Python API (`ifan_trt.Model`) calls the same
functions. A job raises IfanError with messages that name its request's fields and logs to the
`ifan` logger; it never prints.

This floor sits above export, calib, runtime (and runtime/tensorrt) and training, below the
commands: it is where two of them meet, so that no command and no lower floor has to."""
