"""errno texts as Go prints them (`address already in use`): glibc's wording with a lower-case first
letter. Go carries this table in its syscall package; our static binaries use musl, whose strerror()
words many errnos differently (`Address in use`), so the table is ours too (generated from glibc 2.36).
"""

TEXTS = {
    1: 'operation not permitted',  # EPERM
    2: 'no such file or directory',  # ENOENT
    3: 'no such process',  # ESRCH
    4: 'interrupted system call',  # EINTR
    5: 'input/output error',  # EIO
    6: 'no such device or address',  # ENXIO
    7: 'argument list too long',  # E2BIG
    8: 'exec format error',  # ENOEXEC
    9: 'bad file descriptor',  # EBADF
    10: 'no child processes',  # ECHILD
    11: 'resource temporarily unavailable',  # EAGAIN
    12: 'cannot allocate memory',  # ENOMEM
    13: 'permission denied',  # EACCES
    14: 'bad address',  # EFAULT
    15: 'block device required',  # ENOTBLK
    16: 'device or resource busy',  # EBUSY
    17: 'file exists',  # EEXIST
    18: 'invalid cross-device link',  # EXDEV
    19: 'no such device',  # ENODEV
    20: 'not a directory',  # ENOTDIR
    21: 'is a directory',  # EISDIR
    22: 'invalid argument',  # EINVAL
    23: 'too many open files in system',  # ENFILE
    24: 'too many open files',  # EMFILE
    25: 'inappropriate ioctl for device',  # ENOTTY
    26: 'text file busy',  # ETXTBSY
    27: 'file too large',  # EFBIG
    28: 'no space left on device',  # ENOSPC
    29: 'illegal seek',  # ESPIPE
    30: 'read-only file system',  # EROFS
    31: 'too many links',  # EMLINK
    32: 'broken pipe',  # EPIPE
    33: 'numerical argument out of domain',  # EDOM
    34: 'numerical result out of range',  # ERANGE
    35: 'resource deadlock avoided',  # EDEADLOCK
    36: 'file name too long',  # ENAMETOOLONG
    37: 'no locks available',  # ENOLCK
    38: 'function not implemented',  # ENOSYS
    39: 'directory not empty',  # ENOTEMPTY
    40: 'too many levels of symbolic links',  # ELOOP
    42: 'no message of desired type',  # ENOMSG
    43: 'identifier removed',  # EIDRM
    44: 'channel number out of range',  # ECHRNG
    45: 'level 2 not synchronized',  # EL2NSYNC
    46: 'level 3 halted',  # EL3HLT
    47: 'level 3 reset',  # EL3RST
    48: 'link number out of range',  # ELNRNG
    49: 'protocol driver not attached',  # EUNATCH
    50: 'no CSI structure available',  # ENOCSI
    51: 'level 2 halted',  # EL2HLT
    52: 'invalid exchange',  # EBADE
    53: 'invalid request descriptor',  # EBADR
    54: 'exchange full',  # EXFULL
    55: 'no anode',  # ENOANO
    56: 'invalid request code',  # EBADRQC
    57: 'invalid slot',  # EBADSLT
    59: 'bad font file format',  # EBFONT
    60: 'device not a stream',  # ENOSTR
    61: 'no data available',  # ENODATA
    62: 'timer expired',  # ETIME
    63: 'out of streams resources',  # ENOSR
    64: 'machine is not on the network',  # ENONET
    65: 'package not installed',  # ENOPKG
    66: 'object is remote',  # EREMOTE
    67: 'link has been severed',  # ENOLINK
    68: 'advertise error',  # EADV
    69: 'srmount error',  # ESRMNT
    70: 'communication error on send',  # ECOMM
    71: 'protocol error',  # EPROTO
    72: 'multihop attempted',  # EMULTIHOP
    73: 'rFS specific error',  # EDOTDOT
    74: 'bad message',  # EBADMSG
    75: 'value too large for defined data type',  # EOVERFLOW
    76: 'name not unique on network',  # ENOTUNIQ
    77: 'file descriptor in bad state',  # EBADFD
    78: 'remote address changed',  # EREMCHG
    79: 'can not access a needed shared library',  # ELIBACC
    80: 'accessing a corrupted shared library',  # ELIBBAD
    81: '.lib section in a.out corrupted',  # ELIBSCN
    82: 'attempting to link in too many shared libraries',  # ELIBMAX
    83: 'cannot exec a shared library directly',  # ELIBEXEC
    84: 'invalid or incomplete multibyte or wide character',  # EILSEQ
    85: 'interrupted system call should be restarted',  # ERESTART
    86: 'streams pipe error',  # ESTRPIPE
    87: 'too many users',  # EUSERS
    88: 'socket operation on non-socket',  # ENOTSOCK
    89: 'destination address required',  # EDESTADDRREQ
    90: 'message too long',  # EMSGSIZE
    91: 'protocol wrong type for socket',  # EPROTOTYPE
    92: 'protocol not available',  # ENOPROTOOPT
    93: 'protocol not supported',  # EPROTONOSUPPORT
    94: 'socket type not supported',  # ESOCKTNOSUPPORT
    95: 'operation not supported',  # ENOTSUP
    96: 'protocol family not supported',  # EPFNOSUPPORT
    97: 'address family not supported by protocol',  # EAFNOSUPPORT
    98: 'address already in use',  # EADDRINUSE
    99: 'cannot assign requested address',  # EADDRNOTAVAIL
    100: 'network is down',  # ENETDOWN
    101: 'network is unreachable',  # ENETUNREACH
    102: 'network dropped connection on reset',  # ENETRESET
    103: 'software caused connection abort',  # ECONNABORTED
    104: 'connection reset by peer',  # ECONNRESET
    105: 'no buffer space available',  # ENOBUFS
    106: 'transport endpoint is already connected',  # EISCONN
    107: 'transport endpoint is not connected',  # ENOTCONN
    108: 'cannot send after transport endpoint shutdown',  # ESHUTDOWN
    109: 'too many references: cannot splice',  # ETOOMANYREFS
    110: 'connection timed out',  # ETIMEDOUT
    111: 'connection refused',  # ECONNREFUSED
    112: 'host is down',  # EHOSTDOWN
    113: 'no route to host',  # EHOSTUNREACH
    114: 'operation already in progress',  # EALREADY
    115: 'operation now in progress',  # EINPROGRESS
    116: 'stale file handle',  # ESTALE
    117: 'structure needs cleaning',  # EUCLEAN
    118: 'not a XENIX named type file',  # ENOTNAM
    119: 'no XENIX semaphores available',  # ENAVAIL
    120: 'is a named type file',  # EISNAM
    121: 'remote I/O error',  # EREMOTEIO
    122: 'disk quota exceeded',  # EDQUOT
    123: 'no medium found',  # ENOMEDIUM
    124: 'wrong medium type',  # EMEDIUMTYPE
    125: 'operation canceled',  # ECANCELED
    126: 'required key not available',  # ENOKEY
    127: 'key has expired',  # EKEYEXPIRED
    128: 'key has been revoked',  # EKEYREVOKED
    129: 'key was rejected by service',  # EKEYREJECTED
    130: 'owner died',  # EOWNERDEAD
    131: 'state not recoverable',  # ENOTRECOVERABLE
    132: 'operation not possible due to RF-kill',  # ERFKILL
    133: 'memory page has hardware error',  # 
}
