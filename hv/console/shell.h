/* The debug shell's commands (hv/console/shell.c); the line comes from
 * hv/console/console.c, which holds the console lock while a command runs. */
#pragma once

/* At start: the rates "since boot" count from here. */
void shell_init(void);
/* Runs one typed line (NUL-terminated, may be empty). */
void shell_run(char *line);
