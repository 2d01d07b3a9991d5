/* newlib is built with --disable-newlib-supplied-syscalls and, for the
 * x86_64-elf target, calls the plain POSIX names (sbrk, write, ...). There
 * are no files: fds 0-2 are the serial console. */
#include "lib/newlib_glue.h"
#include <errno.h>
#include <stdint.h>
#include <sys/stat.h>
#include "hv/core/log.h"
#include "hv/core/exception.h"

#undef errno
extern int errno;

static char *heap_start, *heap_cur, *heap_end;

void heap_init(void *start, size_t size)
{
    heap_start = heap_cur = start;
    heap_end = heap_cur + size;
}

void heap_usage(size_t *used, size_t *size)
{
    *used = (size_t)(heap_cur - heap_start);
    *size = (size_t)(heap_end - heap_start);
}

void *sbrk(ptrdiff_t incr)
{
    if (incr < 0 || incr > heap_end - heap_cur) {
        errno = ENOMEM;
        return (void *)-1;
    }
    char *old = heap_cur;
    heap_cur += incr;
    return old;
}

int write(int fd, const void *buf, size_t n)
{
    if (fd != 1 && fd != 2) {
        errno = EBADF;
        return -1;
    }
    log_write_raw(buf, n);
    return (int)n;
}

int read(int fd, void *buf, size_t n)
{
    (void)fd, (void)buf, (void)n;
    return 0; /* console input comes with the debug shell */
}

int close(int fd) { (void)fd; errno = EBADF; return -1; }
int lseek(int fd, int off, int whence) { (void)fd, (void)off, (void)whence; return 0; }
int isatty(int fd) { return fd >= 0 && fd <= 2; }
int getpid(void) { return 1; }
int kill(int pid, int sig) { (void)pid, (void)sig; errno = EINVAL; return -1; }

int fstat(int fd, struct stat *st)
{
    (void)fd;
    st->st_mode = S_IFCHR;
    return 0;
}

/* abort() and exit() end here: a library-level fatal error. */
void _exit(int status)
{
    pr_err("newlib: _exit(%d) called", status);
    hv_fatal_stop();
}
