/*
 * replay-main - run saved inputs through a fuzz target without libFuzzer
 *
 * Usage: fuzz-TARGET-replay PATH...  Each PATH is a file, or a directory
 * whose regular files (not dot files, not subdirectories) are run in name
 * order.  Each input is copied into a buffer of exactly its size so that
 * a sanitizer build catches reads past the end, as libFuzzer would.
 * Exit 0 when every input ran (a broken invariant aborts), 2 when a path
 * cannot be read.
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

#define REPLAY_MAX_INPUT (4 * 1024 * 1024)	/* larger files are refused */

const char *fuzz_input_name;

/* replay_file - run one file; 0 ok, -1 unreadable */
static int
replay_file(const char *path)
{
	FILE *fp;
	unsigned char *buf;
	size_t len = 0;
	struct stat st;

	if ((fp = fopen(path, "rb")) == NULL || fstat(fileno(fp), &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	if (st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %d bytes\n", path,
			REPLAY_MAX_INPUT);
		fclose(fp);
		return -1;
	}
	/* malloc(0) may return NULL; keep one byte but pass the true size */
	buf = malloc((size_t)st.st_size > 0 ? (size_t)st.st_size : 1);
	if (buf == NULL) {
		fprintf(stderr, "replay: out of memory\n");
		exit(2);
	}
	len = fread(buf, 1, (size_t)st.st_size, fp);
	if (ferror(fp)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		fclose(fp);
		free(buf);
		return -1;
	}
	fclose(fp);
	fuzz_input_name = path;
	LLVMFuzzerTestOneInput(buf, len);
	fuzz_input_name = NULL;
	free(buf);
	return 0;
}

/* replay_dir - run every regular file of a directory in name order */
static int
replay_dir(const char *path, unsigned *count)
{
	struct dirent **names;
	char file[4096];
	struct stat st;
	int n, i, status = 0;

	if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (names[i]->d_name[0] != '.'
		    && snprintf(file, sizeof(file), "%s/%s", path,
				names[i]->d_name) < (int)sizeof(file)
		    && stat(file, &st) == 0 && S_ISREG(st.st_mode)) {
			if (replay_file(file) < 0)
				status = -1;
			else
				(*count)++;
		}
		free(names[i]);
	}
	free(names);
	return status;
}

int     main(int, char **);

/* main - replay every path given */
int
main(int argc, char **argv)
{
	struct stat st;
	unsigned count = 0;
	int i, status = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIRECTORY...\n", argv[0]);
		return 2;
	}
	for (i = 1; i < argc; i++) {
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			status = 2;
		} else if (S_ISDIR(st.st_mode)) {
			if (replay_dir(argv[i], &count) < 0)
				status = 2;
		} else if (replay_file(argv[i]) < 0) {
			status = 2;
		} else {
			count++;
		}
	}
	printf("replay: %u inputs\n", count);
	return status;
}
