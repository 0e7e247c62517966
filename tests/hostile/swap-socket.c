/*
 * swap-socket - LD_PRELOAD shim: the symlink attack on the milter socket,
 * won every time
 *
 * A user who may write the socket's directory can swap the socket for a
 * link between the daemon's bind() and its chown().  Racing a real
 * attacker would win only sometimes, so this shim plays the attacker at
 * the worst moment: libmilter's listen() on a unix socket, after bind()
 * and before the daemon changes the owner.  It moves the socket aside
 * and puts at its path what RG_SWAP_KIND says:
 *
 *   symlink   a symbolic link to RG_SWAP_TARGET
 *   hardlink  a hard link to RG_SWAP_TARGET
 *
 * Test code only (tests/hostile/privileges.sh); never linked into the
 * daemon.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int     listen(int fd, int backlog);

/* listen - swap the socket's path, then listen as libc would */
int
listen(int fd, int backlog)
{
	static int (*real_listen) (int, int);
	struct sockaddr_un sun;
	socklen_t len = sizeof(sun);
	const char *kind = getenv("RG_SWAP_KIND");
	const char *target = getenv("RG_SWAP_TARGET");
	char moved[sizeof(sun.sun_path) + 8];

	if (real_listen == NULL)
		real_listen = (int (*)(int, int)) dlsym(RTLD_NEXT, "listen");
	memset(&sun, 0, sizeof(sun));
	if (kind != NULL && target != NULL
	    && getsockname(fd, (struct sockaddr *) &sun, &len) == 0
	    && sun.sun_family == AF_UNIX && sun.sun_path[0] != '\0') {
		snprintf(moved, sizeof(moved), "%s.moved", sun.sun_path);
		if (rename(sun.sun_path, moved) == 0) {
			if (strcmp(kind, "hardlink") == 0)
				(void) link(target, sun.sun_path);
			else
				(void) symlink(target, sun.sun_path);
		}
	}
	return real_listen(fd, backlog);
}
