#include "hv/console/shell_line.h"

void shell_line_reset(struct shell_line *l)
{
    l->len = 0;
    l->buf[0] = 0;
    l->overlong = false;
}

enum shell_feed shell_line_feed(struct shell_line *l, uint8_t c)
{
    if (c == '\r' || c == '\n') {
        bool overlong = l->overlong;
        l->buf[l->len] = 0;
        l->len = 0;
        l->overlong = false;
        if (overlong)
            return SHELL_FEED_OVERLONG;
        /* A CRLF terminal sends both: the LF after a CR is an empty line,
         * which the caller runs as nothing. */
        return SHELL_FEED_LINE;
    }
    if (c == 0x08 || c == 0x7F) {
        if (l->overlong || l->len == 0)
            return SHELL_FEED_NONE;
        l->len--;
        return SHELL_FEED_ERASE;
    }
    if (c < 0x20 || c > 0x7E)
        return SHELL_FEED_NONE;
    if (l->len >= SHELL_LINE_MAX) {
        l->overlong = true;
        return SHELL_FEED_NONE;
    }
    l->buf[l->len++] = (char)c;
    return SHELL_FEED_ECHO;
}

int shell_split(char *buf, char **argv, int max)
{
    int n = 0;
    char *p = buf;
    for (;;) {
        while (*p == ' ' || *p == '\t')
            *p++ = 0;
        if (!*p)
            return n;
        if (n == max)
            return -1;
        argv[n++] = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
    }
}

bool shell_parse_uint(const char *s, uint64_t *out)
{
    uint64_t v = 0;
    unsigned base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
    }
    if (!*s)
        return false;
    for (; *s; s++) {
        unsigned d;
        if (*s >= '0' && *s <= '9')
            d = (unsigned)(*s - '0');
        else if (base == 16 && *s >= 'a' && *s <= 'f')
            d = (unsigned)(*s - 'a' + 10);
        else if (base == 16 && *s >= 'A' && *s <= 'F')
            d = (unsigned)(*s - 'A' + 10);
        else
            return false;
        if (v > (UINT64_MAX - d) / base)
            return false;
        v = v * base + d;
    }
    *out = v;
    return true;
}
