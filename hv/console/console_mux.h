/* Who owns the shared serial line: L1 or the hypervisor's debug shell.
 *
 * Every byte typed on the line passes through console_mux_input(), which
 * looks for the escape (Ctrl-<letter> three times in a row, config key
 * console_escape) and sends everything else to whichever side owns the
 * line: into the FIFO from which L1's (intercepted) reads of the UART are
 * answered, or into the shell's. Escape bytes are held back until the
 * next byte shows whether they were the escape: one or two Ctrl-A and
 * then anything else reach L1 as typed, in order; the third switches and
 * none of them reaches anyone. Only typed bytes are looked at, so the
 * escape in L1's output does nothing.
 *
 * While the shell owns the line, L1's output is kept here (up to
 * CONSOLE_MUX_OUT_MAX bytes, the rest counted and dropped) and written
 * out when L1 gets the line back.
 *
 * Pure state machine, no I/O and no locking (hv/console/console.c locks it). */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#define CONSOLE_MUX_FIFO 256       /* power of two */
#define CONSOLE_MUX_OUT_MAX 4096
#define CONSOLE_ESCAPE_REPEAT 3

struct byte_fifo {
    uint8_t buf[CONSOLE_MUX_FIFO];
    uint32_t head, tail;           /* free-running: head - tail bytes held */
};

enum console_owner { CONSOLE_L1 = 0, CONSOLE_SHELL = 1 };

enum console_event {
    CONSOLE_EV_NONE = 0,
    CONSOLE_EV_TO_SHELL,           /* the escape: the shell has the line now */
    CONSOLE_EV_TO_L1,              /* the escape again: L1 has it back */
};

struct console_mux {
    uint8_t escape;                /* the control byte, 0x01..0x1A */
    uint8_t held;                  /* escape bytes in a row, not yet passed on */
    enum console_owner owner;
    struct byte_fifo to_l1, to_shell;
    uint64_t lost_input;           /* typed bytes dropped: a FIFO was full */
    char l1_out[CONSOLE_MUX_OUT_MAX];
    uint32_t l1_out_len;
    uint64_t l1_out_dropped;
    uint64_t switches;
};

/* letter: 'a'..'z' (the config value); Ctrl-<letter> is letter & 0x1F. */
void console_mux_init(struct console_mux *m, char letter);
/* One typed byte. */
enum console_event console_mux_input(struct console_mux *m, uint8_t c);
/* Hands the line to owner (the shell's `continue`); held escape bytes are
 * forgotten. */
void console_mux_set_owner(struct console_mux *m, enum console_owner owner);

bool fifo_empty(const struct byte_fifo *f);
bool fifo_push(struct byte_fifo *f, uint8_t c); /* false: full, c dropped */
int fifo_pop(struct byte_fifo *f);              /* -1: empty */

/* A byte L1 writes to the UART: true if it goes to the line now (L1 owns
 * it), false if it was kept for later (or dropped when the buffer is
 * full). */
bool console_mux_l1_output(struct console_mux *m, uint8_t c);
