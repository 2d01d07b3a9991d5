#include "hv/console/console_mux.h"

void console_mux_init(struct console_mux *m, char letter)
{
    m->escape = (uint8_t)(letter & 0x1F);
    m->held = 0;
    m->owner = CONSOLE_L1;
    m->to_l1.head = m->to_l1.tail = 0;
    m->to_shell.head = m->to_shell.tail = 0;
    m->lost_input = 0;
    m->l1_out_len = 0;
    m->l1_out_dropped = 0;
    m->switches = 0;
}

bool fifo_empty(const struct byte_fifo *f)
{
    return f->head == f->tail;
}

bool fifo_push(struct byte_fifo *f, uint8_t c)
{
    if (f->head - f->tail >= CONSOLE_MUX_FIFO)
        return false;
    f->buf[f->head++ % CONSOLE_MUX_FIFO] = c;
    return true;
}

int fifo_pop(struct byte_fifo *f)
{
    if (fifo_empty(f))
        return -1;
    return f->buf[f->tail++ % CONSOLE_MUX_FIFO];
}

static void deliver(struct console_mux *m, uint8_t c)
{
    struct byte_fifo *f = m->owner == CONSOLE_L1 ? &m->to_l1 : &m->to_shell;
    if (!fifo_push(f, c))
        m->lost_input++;
}

enum console_event console_mux_input(struct console_mux *m, uint8_t c)
{
    if (c == m->escape) {
        if (++m->held < CONSOLE_ESCAPE_REPEAT)
            return CONSOLE_EV_NONE;
        m->held = 0;
        m->switches++;
        m->owner = m->owner == CONSOLE_L1 ? CONSOLE_SHELL : CONSOLE_L1;
        return m->owner == CONSOLE_SHELL ? CONSOLE_EV_TO_SHELL : CONSOLE_EV_TO_L1;
    }
    /* Not the escape after all: what was held goes on first, as typed. */
    for (; m->held; m->held--)
        deliver(m, m->escape);
    deliver(m, c);
    return CONSOLE_EV_NONE;
}

void console_mux_set_owner(struct console_mux *m, enum console_owner owner)
{
    if (m->owner != owner)
        m->switches++;
    m->owner = owner;
    m->held = 0;
}

bool console_mux_l1_output(struct console_mux *m, uint8_t c)
{
    if (m->owner == CONSOLE_L1)
        return true;
    if (m->l1_out_len < CONSOLE_MUX_OUT_MAX)
        m->l1_out[m->l1_out_len++] = (char)c;
    else
        m->l1_out_dropped++;
    return false;
}
