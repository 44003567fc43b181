/*
 * content.h - the workspace's content store and the target files that
 * `publish` writes (content.c).
 */
#ifndef PAWL_REPO_CONTENT_H
#define PAWL_REPO_CONTENT_H

#include "repo.h"

/* Hash dfd/name (O_NOFOLLOW, regular file) and store it by sha256 in the
 * workspace, reading it once. shown names the file in messages. */
PAWL_MUST_USE int content_add_at(ws *w, int dfd, const char *name, const char *shown,
				 uint64_t *ret_len, digests *ret);
/* Only hash dfd/name (opened the same way), storing nothing: for checks
 * that may refuse the file before it reaches the store. */
PAWL_MUST_USE int content_hash_at(ws *w, int dfd, const char *name, const char *shown,
				  uint64_t *ret_len, digests *ret);
/* The same, hard-linking the file into the store instead of copying it
 * (falls back to a copy across file systems). */
PAWL_MUST_USE int content_link_at(ws *w, int dfd, const char *name, const char *shown,
				  uint64_t *ret_len, digests *ret);
/* Content the command writes itself (an image's pack and index): a new
 * temporary file in the store (its name into tmp, n bytes), then either
 * commit (moved to its place by dg->sha256, or dropped when the store
 * holds that content already) or discard. */
PAWL_MUST_USE int content_tmp_create(ws *w, char *tmp, size_t n, int *ret_fd);
PAWL_MUST_USE int content_tmp_commit(ws *w, const char *tmp, uint64_t len, const digests *dg);
void content_tmp_discard(ws *w, const char *tmp);
/* Make everything written to the store so far durable (one syncfs). */
PAWL_MUST_USE int content_sync(ws *w);
/* Copy the stored content of target t to outfd/name, checking length and
 * every hash while copying. name's directory must exist. */
PAWL_MUST_USE int content_publish(ws *w, int outfd, const char *name, const md_target *t,
				  const char *path);
/* Check dirfd/name against t's length and hashes; what names it. */
PAWL_MUST_USE int content_check(int dirfd, const char *name, const md_target *t,
				const char *what);

#endif
