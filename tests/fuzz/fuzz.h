/*
 * fuzz - what every relayguard fuzz target shares
 *
 * A target is one file defining LLVMFuzzerTestOneInput().  Built with
 * clang -fsanitize=fuzzer it is a libFuzzer program (make fuzz); built
 * with -DRG_FUZZ_REPLAY and linked with replay-main.c it runs saved
 * inputs (seed corpora, crash reproducers) under make check, so every
 * crash ever found stays a regression test even without clang.
 *
 * Targets check invariants with FUZZ_CHECK(): a violation prints what
 * failed (and, in replay builds, which input) and aborts, which libFuzzer
 * reports as a crash and saves as a reproducer.
 */
#ifndef RG_FUZZ_H
#define RG_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int     LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#ifdef RG_FUZZ_REPLAY
extern const char *fuzz_input_name;	/* set by replay-main.c */
#endif

/* fuzz_fail - report a broken invariant and abort */
static inline void __attribute__((noreturn))
fuzz_fail(const char *file, int line, const char *what)
{
#ifdef RG_FUZZ_REPLAY
	fprintf(stderr, "%s:%d: invariant failed: %s (input %s)\n",
		file, line, what, fuzz_input_name ? fuzz_input_name : "?");
#else
	fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
#endif
	abort();
}

#define FUZZ_CHECK(expr) \
	do { if (!(expr)) fuzz_fail(__FILE__, __LINE__, #expr); } while (0)

#endif
