/*
 * milter_signals - keep libmilter's signal thread away from our signals
 *
 * smfi_main() starts a thread of its own that sigwait()s for SIGHUP,
 * SIGTERM and SIGINT and stops the milter on any of them (measured with
 * Debian's libmilter 8.17: a SIGHUP makes smfi_main() return about five
 * seconds later).  relayguard reloads on SIGHUP and wants to log and
 * flush on SIGTERM, so its main thread waits for those signals itself
 * (sigwaitinfo() in relayguard.c).  With two threads waiting for the same
 * signal the kernel picks either, and a SIGHUP that lands in libmilter's
 * thread would stop the service instead of reloading it.
 *
 * This program never calls sigwait() itself; libmilter's call binds to
 * this definition (an executable's symbols come before libc's in the
 * dynamic linker's search order).  It takes the daemon's own signals out
 * of the set, so libmilter's thread waits for nothing and sleeps until
 * the process exits.  libmilter still stops when relayguard calls
 * smfi_stop().
 */
#include <errno.h>
#include <signal.h>
#include <unistd.h>


/* sigwait - libmilter's signal wait, minus the daemon's own signals */
int
sigwait(const sigset_t *set, int *sig)
{
	sigset_t mine = *set;
	int rc;

	sigdelset(&mine, SIGHUP);
	sigdelset(&mine, SIGTERM);
	sigdelset(&mine, SIGINT);
	sigdelset(&mine, SIGUSR1);
	sigdelset(&mine, SIGUSR2);
	for (;;) {
		if (sigisemptyset(&mine)) {
			pause();
			continue;
		}
		rc = sigwaitinfo(&mine, NULL);
		if (rc > 0) {
			*sig = rc;
			return 0;
		}
		if (errno != EINTR)
			return errno;
	}
}
