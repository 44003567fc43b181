#include <stdio.h>
#include <string.h>

#include "pawl/common.h"

int main(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "--version") == 0) {
		printf("pawl-repo %s\n", pawl_version());
		return 0;
	}
	fprintf(stderr, "pawl-repo: not yet\n");
	return 1;
}
