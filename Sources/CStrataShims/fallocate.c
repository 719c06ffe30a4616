#define _GNU_SOURCE
#include "CStrataShims.h"
#include <errno.h>
#include <fcntl.h>

int strata_fallocate(int fd, int mode, off_t offset, off_t len) {
#ifdef __linux__
    if (fallocate(fd, mode, offset, len) == 0) return 0;
    return errno;
#else
    (void)mode;
    return posix_fallocate(fd, offset, len);
#endif
}

int strata_falloc_keep_size(void) {
#ifdef __linux__
    return FALLOC_FL_KEEP_SIZE;
#else
    return 0;
#endif
}
