/*
 * serialize.c - writing metadata files.
 *
 * Signatures are made over the canonical form of "signed", but files are
 * written as ordinary JSON: canonical JSON writes control characters raw
 * (the newlines of a PEM key, for one), which no JSON parser accepts. So,
 * like python-tuf, pawl writes standard JSON with sorted keys (pj_write
 * escapes control characters) and canonicalises again when verifying.
 */
#include "metadata/metadata.h"

int md_json_write(const pj_value *v, char **ret, size_t *ret_len)
{
	pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
	int r = pj_write(&b, v, false);

	if (r == 0)
		r = buf_putc(&b, '\n');
	if (r < 0) {
		buf_free(&b);
		return r;
	}
	return buf_steal(&b, ret, ret_len);
}

int md_serialize(pawl_md *md, char **ret, size_t *ret_len)
{
	return md_json_write(pj_root(md->doc), ret, ret_len);
}
