/*
 * file.c - local files for the programs (file.h), over the store module.
 */
#include "common/file.h"
#include "base/base.h"

int cli_read_file(const char *path, size_t max, char **ret, size_t *ret_len)
{
	return file_read_all(path, max, ret, ret_len);
}

int cli_mkdirs(const char *path, mode_t mode)
{
	return dir_create(path, mode);
}
