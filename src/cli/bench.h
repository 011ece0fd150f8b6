/* bench: `tradeabm bench`, fixed workloads that measure throughput per core,
 * the gap to a bare lower-bound kernel, panel I/O overhead, the dynamic
 * programme's solve time, state size and memory (docs/performance.md). */
#ifndef TM_BENCH_H
#define TM_BENCH_H

int tm_cli_bench(int argc, char **argv);

#endif
