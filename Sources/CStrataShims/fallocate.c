#define _GNU_SOURCE
#include "CStrataShims.h"
#include <errno.h>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

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

int strata_writeback(int fd, off_t offset, off_t len, int wait) {
#ifdef __linux__
    unsigned flags = wait ? (SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER)
                          : SYNC_FILE_RANGE_WRITE;
    if (sync_file_range(fd, offset, len, flags) == 0) return 0;
    return errno;
#else
    (void)fd; (void)offset; (void)len; (void)wait;
    return 0;
#endif
}

int strata_lower_thread_priority(int nice_increment) {
#ifdef __linux__
    // On Linux, nice values are per thread: PRIO_PROCESS with a thread id changes only that thread.
    pid_t tid = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int current = getpriority(PRIO_PROCESS, (id_t)tid);
    if (current == -1 && errno != 0) return errno;
    if (setpriority(PRIO_PROCESS, (id_t)tid, current + nice_increment) == 0) return 0;
    return errno;
#else
    (void)nice_increment;
    return 0;
#endif
}
