/* The debug shell's command line: typed bytes in, words out.
 *
 * shell_line_feed() takes one typed byte: printable ASCII is kept (and
 * echoed by the caller), backspace/DEL removes the last byte, CR or LF
 * ends the line, other control bytes are ignored. A line longer than
 * SHELL_LINE_MAX is refused as a whole when it ends (its bytes after the
 * limit are not kept, so nothing half-typed runs).
 *
 * shell_split() cuts a finished line into at most SHELL_MAX_ARGS words
 * (blanks separate them); shell_parse_uint() reads a decimal or 0x-hex
 * argument. Pure code, unit-tested (tests/unit/test_shell_line.c). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define SHELL_LINE_MAX 80
#define SHELL_MAX_ARGS 8

struct shell_line {
    char buf[SHELL_LINE_MAX + 1];
    unsigned len;
    bool overlong;
};

enum shell_feed {
    SHELL_FEED_NONE,      /* nothing to do */
    SHELL_FEED_ECHO,      /* byte kept: echo it */
    SHELL_FEED_ERASE,     /* one byte removed: erase it on the terminal */
    SHELL_FEED_LINE,      /* a line is complete in buf (NUL-terminated) */
    SHELL_FEED_OVERLONG,  /* a line ended that was longer than SHELL_LINE_MAX */
};

void shell_line_reset(struct shell_line *l);
enum shell_feed shell_line_feed(struct shell_line *l, uint8_t c);
/* Splits buf in place; returns the number of words, -1 if there are more
 * than max. */
int shell_split(char *buf, char **argv, int max);
bool shell_parse_uint(const char *s, uint64_t *out);
