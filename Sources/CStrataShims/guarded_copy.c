// Copies out of file mappings that turn a SIGBUS into an error code (see CStrataShims.h).
//
// A read through a memory map of a file cannot return an error: when the page cannot be produced
// (the file was truncated below it, or the disk returned EIO) the kernel raises SIGBUS on the
// faulting thread. The copy below arms a per-thread jump buffer; the handler jumps back to it when
// it is armed and otherwise restores the previous disposition and returns, so the fault repeats and
// ends the process exactly as it would have without this file.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>

#include "CStrataShims.h"

static struct sigaction previous_sigbus;
static pthread_once_t install_once = PTHREAD_ONCE_INIT;
// The armed jump buffer of this thread, or NULL. Written only by its own thread; read by the handler
// running on the same thread.
static __thread sigjmp_buf *volatile armed_guard;

static void on_sigbus(int signal_number, siginfo_t *info, void *context) {
    (void)info;
    (void)context;
    sigjmp_buf *guard = armed_guard;
    if (guard != NULL) {
        armed_guard = NULL;
        siglongjmp(*guard, 1);
    }
    // Not inside a guarded copy: hand the fault back to whoever had SIGBUS before (the default
    // action or the Swift runtime's backtracer). Returning re-executes the faulting access.
    sigaction(signal_number, &previous_sigbus, NULL);
}

static void install(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_sigaction = on_sigbus;
    // SA_NODEFER: the jump leaves the handler without returning, so SIGBUS must not stay blocked.
    action.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK;
    sigemptyset(&action.sa_mask);
    sigaction(SIGBUS, &action, &previous_sigbus);
}

int strata_guarded_copy(void *dst, const void *src, size_t count) {
    pthread_once(&install_once, install);
    sigjmp_buf guard;
    if (sigsetjmp(guard, 0) != 0) {
        return EIO;
    }
    armed_guard = &guard;
    __asm__ volatile("" ::: "memory");
    memcpy(dst, src, count);
    __asm__ volatile("" ::: "memory");
    armed_guard = NULL;
    return 0;
}
