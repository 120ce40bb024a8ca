// CZlibShim: the system zlib (inflate for zip members and gzip files, deflate for PNG, crc32).
// Our own module rather than ZIPFoundation's internal one, so our code depends only on zlib's
// public header and not on another package's implementation details.
#ifndef BSS_CZLIB_SHIM_H
#define BSS_CZLIB_SHIM_H
#include <zlib.h>
#endif
