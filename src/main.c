#include <stdlib.h>
#include <unistd.h>

#include "cli/cli.h"

/* libgomp reads its wait policy once, as the program loads. By default an
 * idle thread polls for about 300,000 rounds before it sleeps, and on a
 * shared machine those polls take a core from the thread that has work
 * (the other job's, or our own serial part of a period): beside a
 * competing job a 2-thread run took longer than a 1-thread one
 * (docs/performance.md). Unless the user chose a policy, the program
 * starts again with a short poll; if that fails it runs as it is. */
#define TM_SPIN_COUNT "10000"

static void start_with_short_spin(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT"))
        return;
    if (setenv("GOMP_SPINCOUNT", TM_SPIN_COUNT, 1))
        return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    start_with_short_spin(argv);
    return tm_cli_main(argc, argv);
}
