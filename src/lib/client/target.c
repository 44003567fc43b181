/*
 * target.c - finding a target through the delegation graph (TUF 1.0.x,
 * 5.6.7 and section 4.5) and downloading it with streaming verification.
 *
 * The search is python-tuf's: pre-order depth-first from "targets", each
 * role visited at most once, children in the order their delegator lists
 * them, a matching terminating delegation ending the search of everything
 * after it, and at most max_delegations roles visited.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "client/pipe_writer.h"

PAWL_API const char *pawl_target_path(const pawl_target *t)
{
	return t ? t->path : NULL;
}

PAWL_API uint64_t pawl_target_length(const pawl_target *t)
{
	return t ? t->length : 0;
}

PAWL_API const char *pawl_target_hash(const pawl_target *t, const char *alg)
{
	if (!t || !alg)
		return NULL;
	return pj_str(pj_get(t->hashes, alg));
}

PAWL_API const char *pawl_target_custom(const pawl_target *t)
{
	return t ? t->custom_json : NULL;
}

PAWL_API const char *pawl_target_role(const pawl_target *t)
{
	return t ? t->role : NULL;
}

PAWL_API void pawl_target_free(pawl_target *t)
{
	if (!t)
		return;
	free(t->path);
	free(t->role);
	free(t->custom_json);
	pj_doc_free(t->doc);
	free(t);
}

static int target_new(pawl_target **ret, const char *path, const char *role, const md_target *mt)
{
	pawl_target *t = xcalloc(1, sizeof(*t));
	pj_value *root, *slot;
	int r;

	if (!t)
		return PAWL_E_NOMEM;
	t->path = xstrdup(path);
	t->role = xstrdup(role);
	t->length = mt->length;
	if (!t->path || !t->role) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	GUARD_GOTO(r, pj_doc_new(&t->doc), fail);
	root = pj_root(t->doc);
	GUARD_GOTO(r, pj_set_object(t->doc, root), fail);
	GUARD_GOTO(r, pj_obj_put(t->doc, root, "hashes", 6, &slot), fail);
	GUARD_GOTO(r, pj_copy(t->doc, slot, mt->hashes), fail);
	if (mt->custom) {
		size_t n;

		GUARD_GOTO(r, pj_dump(mt->custom, &t->custom_json, &n), fail);
	}
	t->hashes = pj_get(root, "hashes");
	*ret = t;
	return 0;
fail:
	pawl_target_free(t);
	return r;
}

struct visit {
	const char *name;
	const char *parent;       /* delegator name */
	pawl_md *parent_md;       /* NULL for "targets" (delegated by root) */
	const md_role *deleg;     /* the delegation entry in parent_md */
};

/* Role names we have visited; small, so a linear scan does. */
static bool visited_has(char **v, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], name) == 0)
			return true;
	return false;
}

/*
 * The pre-order walk over the delegation graph that both a target search
 * and a listing use: a stack of roles still to visit, a visited set (a
 * cycle or a diamond visits a role once), and the python-tuf bound of at
 * most max_delegations + 1 roles. walk_next() pops the next unvisited
 * role, loads and verifies it against the delegator that led to it, and
 * marks it visited.
 */
struct walk {
	pawl_updater *u;
	struct visit *stack;
	size_t n, cap;
	char **visited;
	size_t nvisited;
	/* a succinct bin's name and role live here while it is on the stack
	 * (a bin is terminating, so it is alone there) */
	char binname[512];
	md_role binrole;
};

static void walk_free(struct walk *w)
{
	if (w->visited)
		for (size_t i = 0; i < w->nvisited; i++)
			free(w->visited[i]);
	free(w->visited);
	free(w->stack);
}

static int walk_push(struct walk *w, struct visit v)
{
	if (w->n == w->cap) {
		size_t cap = w->cap ? w->cap * 2 : 16;
		struct visit *p = xreallocarray(w->stack, cap, sizeof(*p));

		if (!p)
			return PAWL_E_NOMEM;
		w->stack = p;
		w->cap = cap;
	}
	w->stack[w->n++] = v;
	return 0;
}

static int walk_init(struct walk *w, pawl_updater *u)
{
	memset(w, 0, sizeof(*w));
	w->u = u;
	if (!u->refreshed)
		GUARD(pawl_updater_refresh(u));
	w->visited = xcalloc((size_t)u->max_delegations + 2, sizeof(*w->visited));
	if (!w->visited)
		return PAWL_E_NOMEM;
	return walk_push(w, (struct visit){ "targets", "root", NULL, NULL });
}

/* 1 and the next role's metadata in *ret (and its visit in *ret_v); 0 when
 * the walk is over; < 0 on error. */
static int walk_next(struct walk *w, struct visit *ret_v, pawl_md **ret)
{
	while (w->n > 0 && w->nvisited <= w->u->max_delegations) {
		struct visit v = w->stack[--w->n];
		char *name;

		if (visited_has(w->visited, w->nvisited, v.name))
			continue;
		if (v.parent_md)
			GUARD(updater_load_targets(w->u, v.name, v.parent,
						   &v.parent_md->deleg.keys, v.deleg, ret));
		else
			GUARD(updater_top_targets(w->u, ret));
		name = xstrdup(v.name);
		if (!name)
			return PAWL_E_NOMEM;
		w->visited[w->nvisited++] = name;
		ret_v->name = name;
		ret_v->parent = v.parent;
		return 1;
	}
	return 0;
}


/* Push the children of md that may hold path, so that the first listed is
 * visited first; a matching terminating delegation (and a succinct bin,
 * terminating by definition, TAP 15) drops everything still waiting. */
static int push_children_for(struct walk *w, pawl_md *md, const char *role, const char *path)
{
	size_t first = w->n;

	if (!md->has_delegations)
		return 0;
	if (md->deleg.succinct_present) {
		GUARD(md_succinct_role_for(&md->deleg.succinct, path, w->binname,
					   sizeof(w->binname)));
		w->binrole = md->deleg.succinct.role;
		w->binrole.name = w->binname;
		w->n = 0;
		return walk_push(w, (struct visit){ w->binname, role, md, &w->binrole });
	}
	for (size_t i = 0; i < md->deleg.nroles; i++) {
		const md_role *c = &md->deleg.roles[i];

		if (!md_role_matches(c, path))
			continue;
		GUARD(walk_push(w, (struct visit){ c->name, role, md, c }));
		if (c->terminating) {
			memmove(w->stack, w->stack + first, (w->n - first) * sizeof(*w->stack));
			w->n -= first;
			first = 0;
			break;
		}
	}
	for (size_t a = first, b = w->n; a + 1 < b; a++, b--) {
		struct visit tmp = w->stack[a];

		w->stack[a] = w->stack[b - 1];
		w->stack[b - 1] = tmp;
	}
	return 0;
}

PAWL_API int pawl_updater_get_target(pawl_target **out, pawl_updater *u, const char *path)
{
	struct walk w;
	struct visit v;
	pawl_md *md;
	int r;

	ENSURE(out && u && path, PAWL_E_INVALID, "NULL argument");
	ENSURE(*path && strlen(path) < 4096, PAWL_E_INVALID, "bad target path");
	GUARD_GOTO(r, walk_init(&w, u), out);
	while ((r = walk_next(&w, &v, &md)) > 0) {
		md_target mt;

		if (md_target_get(md, path, &mt) == 0) {
			r = target_new(out, path, v.name, &mt);
			goto out;
		}
		pawl_error_clear();
		GUARD_GOTO(r, push_children_for(&w, md, v.name, path), out);
	}
	if (r == 0)
		r = pawl_error_set(PAWL_E_NOT_FOUND,
				   "target \"%s\" is not listed by any trusted role%s", path,
				   w.n > 0 ? " (delegation search limit reached)" : "");
out:
	walk_free(&w);
	return r;
}

int updater_collect_targets(pawl_updater *u, const char *prefix, updater_target_cb cb, void *ctx)
{
	size_t plen = strlen(prefix);
	struct walk w;
	struct visit v;
	pawl_md *md;
	int r;

	ENSURE(u && prefix && cb, PAWL_E_INVALID, "NULL argument");
	GUARD_GOTO(r, walk_init(&w, u), out);
	while ((r = walk_next(&w, &v, &md)) > 0) {
		for (uint32_t i = 0; i < md->targets->len; i++) {
			const pj_member *m = &md->targets->u.members[i];
			md_target t;

			if (m->klen < plen || memcmp(m->key, prefix, plen) != 0)
				continue;
			GUARD_GOTO(r, md_target_parse(&m->value, &t, m->key), out);
			GUARD_GOTO(r, cb(ctx, m->key, &t, v.name), out);
		}
		/* Named delegations only: listing hash bins would mean loading
		 * every bin. */
		if (!md->has_delegations || md->deleg.succinct_present)
			continue;
		for (size_t i = md->deleg.nroles; i-- > 0;)
			GUARD_GOTO(r, walk_push(&w, (struct visit){ md->deleg.roles[i].name, v.name,
								     md, &md->deleg.roles[i] }),
				   out);
	}
out:
	walk_free(&w);
	return r;
}

/* ---------------- download ---------------- */

struct dl {
	pawl_updater *u;
	const pawl_target *t;
	md_hashset hs;
	pawl_staged *st;
	pipe_writer *pw; /* large targets: writes on a second thread */
	uint64_t done;
	uint64_t next_progress;
};

static int dl_sink(void *vctx, const void *p, size_t n)
{
	struct dl *d = vctx;

	if (d->pw) {
		GUARD(pw_put(d->pw, p, n));
	} else {
		GUARD(md_hashset_update(&d->hs, p, n));
		GUARD(staged_write(d->st, p, n));
	}
	d->done += n;
	if (d->u->o.on_event && d->done >= d->next_progress) {
		pawl_event ev = { .kind = PAWL_EVENT_PROGRESS, .target = d->t->path,
				  .done = d->done, .total = d->t->length };

		d->u->o.on_event(&ev, d->u->o.event_ctx);
		d->next_progress = d->done + (1u << 20);
	}
	return 0;
}

/* Append a target path to a URL: bytes that may stand in a URL path as
 * they are (RFC 3986 pchar: unreserved, sub-delims, ':' and '@', plus the
 * '/' separators) stay; everything else, '%' '?' '#' space, controls and
 * non-ASCII included, is %XX. So a repository's file is found under the
 * path the publisher gave it (as the reference client sends it), and a
 * name can never turn into a query, fragment or another escape. */
static int path_escape(pawl_buf *out, const char *s, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";

	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
		    strchr("-._~!$&'()*+,;=:@/", c)) {
			GUARD(buf_putc(out, (char)c));
		} else {
			char e[3] = { '%', hex[c >> 4], hex[c & 15] };

			GUARD(buf_append(out, e, 3));
		}
	}
	return 0;
}

/* The URL path of a target: with consistent snapshots, the first hash is
 * prefixed to the file name ("dir/HASH.name", TUF 5.7.3). */
static int target_remote_path(pawl_updater *u, const pawl_target *t, pawl_buf *out)
{
	const char *slash = strrchr(t->path, '/');
	size_t dirlen = slash ? (size_t)(slash - t->path) + 1 : 0;
	const pj_value *h = t->hashes;

	if (!u->root->consistent_snapshot)
		return path_escape(out, t->path, strlen(t->path));
	GUARD(path_escape(out, t->path, dirlen));
	ENSURE(h && h->len > 0, PAWL_E_FORMAT, "target %s has no hashes", t->path);
	GUARD(path_escape(out, h->u.members[0].value.u.s, h->u.members[0].value.len));
	GUARD(buf_putc(out, '.'));
	return path_escape(out, t->path + dirlen, strlen(t->path + dirlen));
}

/* From this size on, a download is hashed and written on two more threads. */
#define PIPE_MIN_BYTES ((uint64_t)8 << 20)

/* Feed the bytes already staged (a resumed download) through the hashes,
 * so that the final check covers the whole file, old bytes included. */
static int rehash_existing(struct dl *d, uint64_t existing)
{
	char buf[1 << 16];
	uint64_t off = 0;

	while (off < existing) {
		size_t want = existing - off < sizeof(buf) ? (size_t)(existing - off) : sizeof(buf);
		ssize_t n = pread(staged_fd(d->st), buf, want, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return pawl_error_set_errno(PAWL_E_IO, n < 0 ? errno : EIO,
						    "re-reading the partial download of %s",
						    d->t->path);
		GUARD(md_hashset_update(&d->hs, buf, (size_t)n));
		off += (uint64_t)n;
	}
	d->done = existing;
	return 0;
}

/*
 * One attempt at one mirror. The staged file is kept after a transport
 * failure that delivered bytes (*keep set), so that the next attempt can
 * resume with a Range request; it is discarded after anything else.
 * Whatever was resumed, the whole file's length and hashes are checked
 * before it is committed under dst_name.
 */
static int download_from(pawl_updater *u, const pawl_target *t, const char *url, int stage_dirfd,
			 const char *stage_name, int dst_dirfd, const char *dst_name, bool resume,
			 bool *keep, bool *resumed, bool *local)
{
	struct dl d = { .u = u, .t = t };
	struct stat st;
	uint64_t existing = 0;
	int r;

	*keep = false;
	*resumed = false;
	*local = false;
	GUARD(md_hashset_init(&d.hs, t->hashes, t->path));
	r = staged_open(&d.st, stage_dirfd, stage_name, resume, &existing);
	if (r == 0 && existing > t->length) {
		staged_discard(d.st);
		existing = 0;
		r = staged_open(&d.st, stage_dirfd, stage_name, false, &existing);
	}
	if (r == 0 && existing > 0) {
		*resumed = true;
		r = rehash_existing(&d, existing);
	}
	if (r < 0)
		goto fail;
	if (existing == t->length) {
		/* Everything is already here; only the checks remain. */
		r = 0;
	} else {
		int rw;

		/* Room for the whole target first: a disk that cannot hold it
		 * fails now, not after the transfer. */
		r = staged_reserve(d.st, t->length);
		if (r < 0) {
			*local = true; /* our disk, not the mirror: no point in the next */
			goto fail;
		}
		/* Large targets: receive here, hash and write on two more
		 * threads (the hash set is theirs until pw_finish). */
		if (t->length - existing >= PIPE_MIN_BYTES &&
		    (r = pw_start(&d.pw, d.st, &d.hs)) < 0)
			goto fail;
		/* The signed length bounds the transfer: endless data stops. */
		r = fetcher_get(u->fetcher, url, t->length, existing, dl_sink, &d);
		rw = pw_finish(d.pw);
		d.pw = NULL;
		if (r == 0)
			r = rw;
		if (r == PAWL_E_LIMIT)
			r = pawl_error_set(PAWL_E_LENGTH,
					   "target %s from %s is longer than the %llu bytes signed",
					   t->path, url, (unsigned long long)t->length);
	}
	if (r == 0 && d.done != t->length)
		r = pawl_error_set(PAWL_E_LENGTH, "target %s from %s is %llu bytes, signed as %llu",
				   t->path, url, (unsigned long long)d.done,
				   (unsigned long long)t->length);
	if (r == 0) {
		r = md_hashset_final(&d.hs, t->path);
		if (r < 0)
			pawl_error_prefix(r, "%s: ", url);
	}
	/* Check the staged file once more before it takes its final name. */
	if (r == 0 && (fstat(staged_fd(d.st), &st) != 0 || (uint64_t)st.st_size != t->length))
		r = pawl_error_set(PAWL_E_LENGTH, "staged copy of %s has the wrong size", t->path);
	if (r < 0)
		goto fail;
	md_hashset_free(&d.hs);
	return staged_commit(d.st, dst_dirfd, dst_name);
fail:
	md_hashset_free(&d.hs);
	if (d.st) {
		/* Bytes that arrived before a transport failure are worth
		 * keeping for a resume; they are re-hashed in full anyway. */
		if (r == PAWL_E_NETWORK && d.done > existing) {
			*keep = true;
			staged_release(d.st);
		} else {
			staged_discard(d.st);
		}
	}
	return r;
}

/* METADATA_DIR/staging, created on first use. */
static int dir_create_at(pawl_updater *u, int *ret_fd)
{
	if (mkdirat(u->mdir_fd, "staging", 0700) != 0 && errno != EEXIST)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot create %s/staging", u->mdir);
	return dir_open_at(u->mdir_fd, "staging", ret_fd);
}

/* How often one mirror is retried while it keeps delivering bytes. */
#define RESUME_ATTEMPTS 3

int updater_target_remote_path(pawl_updater *u, const pawl_target *t, pawl_buf *out)
{
	ENSURE(u && u->root && t, PAWL_E_INVALID, "refresh first");
	return target_remote_path(u, t, out);
}

PAWL_API int pawl_updater_target_url_path(pawl_updater *u, const pawl_target *t, char **out)
{
	_cleanup_buf_ pawl_buf rel = PAWL_BUF_INIT(16384);
	size_t n;

	ENSURE(u && t && out, PAWL_E_INVALID, "target_url_path: NULL argument");
	GUARD(updater_target_remote_path(u, t, &rel));
	return buf_steal(&rel, out, &n);
}

static int download_into(pawl_updater *u, const pawl_target *t, int dirfd, const char *filename)
{
	_cleanup_buf_ pawl_buf rel = PAWL_BUF_INIT(16384);
	_cleanup_buf_ pawl_buf stage = PAWL_BUF_INIT(1024);
	_cleanup_close_ int stage_dirfd = -1;
	struct stat a, b;
	bool resumable;
	struct mirror_failure best = { 0, "" };

	ENSURE(u->n_targets > 0, PAWL_E_INVALID, "no target base URL configured");
	GUARD(target_remote_path(u, t, &rel));
	/* Partial downloads live in METADATA_DIR/staging, named by content
	 * hash, so an interrupted download resumes on the next attempt. Where
	 * that is another file system than the target directory (rename
	 * cannot cross), stage next to the target under a hidden name. */
	resumable = dir_create_at(u, &stage_dirfd) == 0 && fstat(stage_dirfd, &a) == 0 &&
		    fstat(dirfd, &b) == 0 && a.st_dev == b.st_dev;
	if (resumable) {
		const pj_value *h = t->hashes;

		GUARD(buf_printf(&stage, "%.*s-%llu", (int)h->u.members[0].value.len,
				 h->u.members[0].value.u.s, (unsigned long long)t->length));
	} else {
		pawl_error_clear();
		if (stage_dirfd >= 0)
			close(TAKE_FD(stage_dirfd));
		GUARD(buf_printf(&stage, ".%s", filename));
	}
	for (size_t i = 0; i < u->n_targets; i++) {
		_cleanup_buf_ pawl_buf url = PAWL_BUF_INIT(32768);
		pawl_event ev = { .kind = PAWL_EVENT_FETCH, .target = t->path };
		int r = 0;

		GUARD(url_join(&url, u->target_urls[i], rel.data));
		ev.url = url.data;
		bool resume = resumable;

		for (int attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
			bool keep = false, resumed = false, local = false;

			emit_event(u, &ev);
			r = download_from(u, t, url.data, resumable ? stage_dirfd : dirfd,
					  stage.data, dirfd, filename, resume, &keep, &resumed, &local);
			if (local)
				return r;
			if (r == 0) {
				pawl_event done = { .kind = PAWL_EVENT_DOWNLOADED,
						    .target = t->path, .url = url.data,
						    .total = t->length,
						    .sha256 = pawl_target_hash(t, "sha256") };

				emit_event(u, &done);
				return 0;
			}
			/* A resumed file that fails its checks is gone, and a
			 * server that would not resume (it ignored the Range
			 * request, or failed before sending a byte) gets one try
			 * from the first byte. */
			if (resumed && resume &&
			    (r == PAWL_E_HASH || r == PAWL_E_LENGTH || (r == PAWL_E_NETWORK && !keep))) {
				resume = false;
				continue;
			}
			if (!keep || !resumable)
				break;
			resume = true;
		}
		{
			pawl_event rej = { .kind = PAWL_EVENT_REJECTED, .target = t->path,
					   .url = url.data, .code = r,
					   .message = pawl_error_last()->message };

			emit_event(u, &rej);
		}
		mirror_failure_note(&best, r);
	}
	return pawl_error_set(best.code, "%s", best.msg);
}

/* The file name of a target in the target directory: its path with every
 * byte outside [A-Za-z0-9._-] percent-encoded (one component, never "."
 * or ".."); a path too long for that becomes "%sha256-" + the hex
 * SHA-256 of the path, so that it still has one stable name (a bare "%s"
 * never occurs in an encoded name, so the two forms cannot collide). */
static int target_filename(const pawl_target *t, pawl_buf *out)
{
	uint8_t d[HASH_MAX_LEN];
	char hex[65];
	int r = name_to_filename(out, t->path, strlen(t->path));

	if (r != PAWL_E_LIMIT)
		return r;
	pawl_error_clear();
	buf_reset(out);
	GUARD(hash_once(HASH_SHA256, t->path, strlen(t->path), d));
	hex_encode(hex, d, 32);
	return buf_printf(out, "%%sha256-%s", hex);
}

PAWL_API int pawl_updater_find_cached(pawl_updater *u, const pawl_target *t,
				      const char *target_dir, char **out_path)
{
	_cleanup_buf_ pawl_buf fn = PAWL_BUF_INIT(1024);
	_cleanup_buf_ pawl_buf full = PAWL_BUF_INIT(8192);
	_cleanup_close_ int dirfd = -1, fd = -1;
	md_hashset hs;
	struct stat st;
	char buf[1 << 16];
	int r;

	ENSURE(u && t && target_dir, PAWL_E_INVALID, "NULL argument");
	GUARD(target_filename(t, &fn));
	r = dir_open(target_dir, &dirfd);
	if (r < 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "no cached copy of %s", t->path);
	fd = openat(dirfd, fn.data, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size != t->length)
		return pawl_error_set(PAWL_E_NOT_FOUND, "no cached copy of %s", t->path);
	GUARD(md_hashset_init(&hs, t->hashes, t->path));
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));

		if (n < 0) {
			md_hashset_free(&hs);
			return pawl_error_set_errno(PAWL_E_IO, errno, "reading %s", fn.data);
		}
		if (n == 0)
			break;
		r = md_hashset_update(&hs, buf, (size_t)n);
		if (r < 0) {
			md_hashset_free(&hs);
			return r;
		}
	}
	if (md_hashset_final(&hs, t->path) < 0)
		return pawl_error_set(PAWL_E_NOT_FOUND, "cached copy of %s does not match",
				      t->path);
	if (out_path) {
		GUARD(buf_printf(&full, "%s/%s", target_dir, fn.data));
		GUARD(buf_steal(&full, out_path, NULL));
	}
	{
		pawl_event ev = { .kind = PAWL_EVENT_CACHED, .target = t->path,
				  .total = t->length };

		emit_event(u, &ev);
	}
	return 0;
}

PAWL_API int pawl_updater_download(pawl_updater *u, const pawl_target *t, const char *target_dir,
				   char **out_path)
{
	_cleanup_buf_ pawl_buf fn = PAWL_BUF_INIT(1024);
	_cleanup_buf_ pawl_buf full = PAWL_BUF_INIT(8192);
	_cleanup_close_ int dirfd = -1;

	ENSURE(u && t && target_dir, PAWL_E_INVALID, "NULL argument");
	ENSURE(u->refreshed, PAWL_E_INVALID, "refresh before downloading");
	GUARD(target_filename(t, &fn));
	GUARD(dir_create(target_dir, 0755));
	GUARD(dir_open(target_dir, &dirfd));
	GUARD(download_into(u, t, dirfd, fn.data));
	if (out_path) {
		GUARD(buf_printf(&full, "%s/%s", target_dir, fn.data));
		GUARD(buf_steal(&full, out_path, NULL));
	}
	return 0;
}

PAWL_API int pawl_updater_download_to(pawl_updater *u, const pawl_target *t, const char *path)
{
	_cleanup_free_ char *dir = NULL;
	_cleanup_close_ int dirfd = -1;
	const char *slash;

	ENSURE(u && t && path, PAWL_E_INVALID, "NULL argument");
	ENSURE(u->refreshed, PAWL_E_INVALID, "refresh before downloading");
	slash = strrchr(path, '/');
	dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
	if (!dir)
		return PAWL_E_NOMEM;
	GUARD(dir_open(dir, &dirfd));
	return download_into(u, t, dirfd, slash ? slash + 1 : path);
}

/* ---------------- streaming download ---------------- */

struct stream {
	pawl_updater *u;
	const pawl_target *t;
	md_hashset hs;
	pawl_target_sink sink;
	void *ctx;
	uint64_t done;
	uint64_t next_progress;
};

static int stream_sink(void *vctx, const void *p, size_t n)
{
	struct stream *s = vctx;

	GUARD(md_hashset_update(&s->hs, p, n));
	GUARD(s->sink(s->ctx, p, n));
	s->done += n;
	if (s->u->o.on_event && s->done >= s->next_progress) {
		pawl_event ev = { .kind = PAWL_EVENT_PROGRESS, .target = s->t->path,
				  .done = s->done, .total = s->t->length };

		s->u->o.on_event(&ev, s->u->o.event_ctx);
		s->next_progress = s->done + (1u << 20);
	}
	return 0;
}

/*
 * Every mirror in turn, each up to RESUME_ATTEMPTS times while it keeps
 * delivering bytes. The sink has consumed what arrived, so a later attempt
 * (on this mirror or the next) never starts again from the first byte: it
 * asks for the rest with a Range request, and a server that will not
 * resume is a failed attempt. The signed length bounds the whole transfer
 * and the signed hashes are checked over every byte before success.
 */
PAWL_API int pawl_updater_download_stream(pawl_updater *u, const pawl_target *t,
					  pawl_target_sink sink, void *ctx)
{
	_cleanup_buf_ pawl_buf rel = PAWL_BUF_INIT(16384);
	struct mirror_failure best = { 0, "" };
	struct stream s = { .u = u, .t = t, .sink = sink, .ctx = ctx };
	int r = 0;

	ENSURE(u && t && sink, PAWL_E_INVALID, "NULL argument");
	ENSURE(u->refreshed, PAWL_E_INVALID, "refresh before downloading");
	ENSURE(u->n_targets > 0, PAWL_E_INVALID, "no target base URL configured");
	GUARD(target_remote_path(u, t, &rel));
	GUARD(md_hashset_init(&s.hs, t->hashes, t->path));
	for (size_t i = 0; i < u->n_targets; i++) {
		_cleanup_buf_ pawl_buf url = PAWL_BUF_INIT(32768);
		pawl_event ev = { .kind = PAWL_EVENT_FETCH, .target = t->path };

		r = url_join(&url, u->target_urls[i], rel.data);
		if (r < 0)
			break;
		ev.url = url.data;
		for (int attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
			uint64_t before = s.done;

			emit_event(u, &ev);
			if (s.done == t->length)
				r = 0; /* a zero-length target, or all of it already */
			else
				r = fetcher_get(u->fetcher, url.data, t->length, s.done,
						stream_sink, &s);
			if (r == PAWL_E_LIMIT)
				r = pawl_error_set(PAWL_E_LENGTH, "target %s from %s is longer "
						   "than the %llu bytes signed", t->path, url.data,
						   (unsigned long long)t->length);
			if (r == 0 && s.done != t->length)
				r = pawl_error_set(PAWL_E_LENGTH, "target %s from %s is %llu bytes, "
						   "signed as %llu", t->path, url.data,
						   (unsigned long long)s.done,
						   (unsigned long long)t->length);
			if (r == 0) {
				r = md_hashset_final(&s.hs, t->path);
				if (r < 0) {
					pawl_error_prefix(r, "%s: ", url.data);
					goto out; /* the bytes were wrong: no mirror can mend that */
				}
				{
					pawl_event done = { .kind = PAWL_EVENT_DOWNLOADED,
							    .target = t->path, .url = url.data,
							    .total = t->length,
							    .sha256 = pawl_target_hash(t, "sha256") };

					emit_event(u, &done);
				}
				goto out;
			}
			/* Only a transport failure that moved the stream on is
			 * worth another attempt here; anything the sink or the
			 * length check refused ends the download. */
			if (r != PAWL_E_NETWORK && r != PAWL_E_NOT_FOUND)
				goto out;
			if (r != PAWL_E_NETWORK || s.done == before)
				break;
		}
		{
			pawl_event rej = { .kind = PAWL_EVENT_REJECTED, .target = t->path,
					   .url = url.data, .code = r,
					   .message = pawl_error_last()->message };

			emit_event(u, &rej);
		}
		mirror_failure_note(&best, r);
	}
	if (r < 0 && best.code)
		r = pawl_error_set(best.code, "%s", best.msg);
out:
	md_hashset_free(&s.hs);
	return r;
}

/* ---------------- byte ranges ---------------- */

struct rstream {
	pawl_updater *u;
	const pawl_target *t;
	const pawl_range *r;
	size_t n;
	size_t ri;    /* the range that holds the next byte wanted; n: all sent */
	uint64_t pos; /* that byte's offset in the target */
	size_t run;   /* a 206: the first range after the run it answers */
	pawl_target_sink sink;
	void *ctx;
	uint64_t done, total, next_progress;
	/* A whole-body read (a server without Range support): */
	uint64_t wpos;  /* the offset of the next body byte */
	bool hashing;   /* it reads the whole target: hs runs over every byte */
	md_hashset hs;
};

static uint64_t range_end(const pawl_range *r)
{
	return r->offset + r->length;
}

/* Hand the k bytes at p, the target's bytes from s->pos on, all inside
 * range s->ri, to the sink. */
static int rs_deliver(struct rstream *s, const void *p, size_t k)
{
	GUARD(s->sink(s->ctx, p, k));
	s->pos += k;
	s->done += k;
	if (s->pos == range_end(&s->r[s->ri]) && ++s->ri < s->n)
		s->pos = s->r[s->ri].offset;
	if (s->u->o.on_event && (s->done >= s->next_progress || s->done == s->total)) {
		pawl_event ev = { .kind = PAWL_EVENT_PROGRESS, .target = s->t->path,
				  .done = s->done, .total = s->total };

		s->u->o.on_event(&ev, s->u->o.event_ctx);
		s->next_progress = s->done + (1u << 20);
	}
	return 0;
}

/* A 206's body: the bytes from s->pos on, through the touching ranges of
 * the run asked for, and never past it (the fetcher stops a longer body
 * before this; a byte past the run must not pass as the next range's). */
static int range_sink(void *vctx, const void *p, size_t n)
{
	struct rstream *s = vctx;
	const uint8_t *b = p;

	while (n > 0) {
		uint64_t left = s->ri < s->run ? range_end(&s->r[s->ri]) - s->pos : 0;
		size_t k = left < n ? (size_t)left : n;

		ENSURE(k > 0, PAWL_E_LENGTH, "more bytes than the ranges asked for");
		GUARD(rs_deliver(s, b, k));
		b += k;
		n -= k;
	}
	return 0;
}

/* A 200's body, from byte 0: only the bytes still wanted go on, and the
 * transfer stops after the last of them. */
static int whole_sink(void *vctx, const void *p, size_t n)
{
	struct rstream *s = vctx;
	const uint8_t *b = p;

	if (s->hashing)
		GUARD(md_hashset_update(&s->hs, p, n));
	while (n > 0 && s->ri < s->n) {
		size_t k;

		if (s->wpos < s->pos) {
			k = s->pos - s->wpos < n ? (size_t)(s->pos - s->wpos) : n;
		} else {
			uint64_t left = range_end(&s->r[s->ri]) - s->pos;

			k = left < n ? (size_t)left : n;
			GUARD(rs_deliver(s, b, k));
		}
		s->wpos += k;
		b += k;
		n -= k;
	}
	/* A read of the whole target goes on to its end, so that the fetcher
	 * still sees a body longer than the signed length. */
	return s->ri == s->n && !s->hashing ? FETCH_STOP : 0;
}

/* One read of the whole target (its signed length bounds it), stopped at
 * the end of the last range; when that is the target's end, the signed
 * hashes are checked over all of it. */
static int whole_read(struct rstream *s, const char *url)
{
	int r;

	s->wpos = 0;
	s->hashing = range_end(&s->r[s->n - 1]) == s->t->length;
	if (s->hashing)
		GUARD(md_hashset_init(&s->hs, s->t->hashes, s->t->path));
	r = fetcher_get(s->u->fetcher, url, s->t->length, 0, whole_sink, s);
	if (r == PAWL_E_LIMIT)
		r = pawl_error_set(PAWL_E_LENGTH, "target %s from %s is longer than the %llu "
				   "bytes signed", s->t->path, url,
				   (unsigned long long)s->t->length);
	if (r == 0 && s->ri < s->n)
		r = pawl_error_set(PAWL_E_NETWORK, "target %s from %s ended at byte %llu, before "
				   "byte %llu of the ranges asked for", s->t->path, url,
				   (unsigned long long)s->wpos, (unsigned long long)s->pos);
	if (r == 0 && s->hashing && s->wpos != s->t->length)
		r = pawl_error_set(PAWL_E_LENGTH, "target %s from %s is %llu bytes, signed as %llu",
				   s->t->path, url, (unsigned long long)s->wpos,
				   (unsigned long long)s->t->length);
	if (r == 0 && s->hashing) {
		r = md_hashset_final(&s->hs, s->t->path);
		if (r < 0)
			pawl_error_prefix(r, "%s: ", url);
	}
	if (s->hashing)
		md_hashset_free(&s->hs);
	s->hashing = false;
	return r;
}

/* One attempt at one mirror: the ranges still wanted, one Range request
 * per run of touching ranges, or one whole read where the server will not
 * answer a range. */
static int ranges_from(struct rstream *s, const char *url)
{
	while (s->ri < s->n) {
		uint64_t first = s->pos, end = range_end(&s->r[s->ri]);
		size_t j = s->ri + 1;
		bool ignored = false;
		int r;

		while (j < s->n && s->r[j].offset == end)
			end = range_end(&s->r[j++]);
		s->run = j;
		r = fetcher_get_range(s->u->fetcher, url, first, end - 1, s->t->length, range_sink,
				      s, &ignored);
		if (ignored) {
			/* That answer's body was not read: its deadline was the
			 * range's. One plain GET, with a whole target's deadline,
			 * reads the body once, for every range still wanted. */
			pawl_error_clear();
			return whole_read(s, url);
		}
		if (r == PAWL_E_LIMIT)
			return pawl_error_set(PAWL_E_LENGTH, "target %s from %s: more than the %llu "
					      "bytes asked for (%llu-%llu)", s->t->path, url,
					      (unsigned long long)(end - first),
					      (unsigned long long)first,
					      (unsigned long long)(end - 1));
		if (r < 0)
			return r;
		if (s->ri < j)
			return pawl_error_set(PAWL_E_NETWORK, "target %s from %s: bytes %llu-%llu "
					      "ended at %llu", s->t->path, url,
					      (unsigned long long)first,
					      (unsigned long long)(end - 1),
					      (unsigned long long)s->pos);
	}
	return 0;
}

static int ranges_check(const pawl_target *t, const pawl_range *r, size_t n, uint64_t *ret_total)
{
	uint64_t total = 0, prev_end = 0;

	ENSURE(n >= 1, PAWL_E_INVALID, "download_ranges: no range of %s", t->path);
	for (size_t i = 0; i < n; i++) {
		uint64_t end;

		ENSURE(r[i].length >= 1, PAWL_E_INVALID, "range %zu of %s is empty", i, t->path);
		ENSURE(!__builtin_add_overflow(r[i].offset, r[i].length, &end) && end <= t->length,
		       PAWL_E_INVALID, "range %zu of %s (%llu+%llu) is not inside its %llu bytes",
		       i, t->path, (unsigned long long)r[i].offset,
		       (unsigned long long)r[i].length, (unsigned long long)t->length);
		ENSURE(i == 0 || r[i].offset >= prev_end, PAWL_E_INVALID,
		       "range %zu of %s (from %llu) is not after the range before it (to %llu)", i,
		       t->path, (unsigned long long)r[i].offset, (unsigned long long)prev_end);
		prev_end = end;
		total += r[i].length; /* <= t->length: the ranges are disjoint */
	}
	*ret_total = total;
	return 0;
}

/*
 * Mirrors and resume as pawl_updater_download_stream: every mirror in
 * turn, each up to RESUME_ATTEMPTS times while it keeps delivering bytes,
 * and every attempt starts at the next byte wanted (s.ri, s.pos), so no
 * byte reaches the sink twice.
 */
PAWL_API int pawl_updater_download_ranges(pawl_updater *u, const pawl_target *t,
					  const pawl_range *rg, size_t n,
					  pawl_target_sink sink, void *ctx)
{
	_cleanup_buf_ pawl_buf rel = PAWL_BUF_INIT(16384);
	struct mirror_failure best = { 0, "" };
	struct rstream s = { .u = u, .t = t, .r = rg, .n = n, .sink = sink, .ctx = ctx };
	int r = 0;

	ENSURE(u && t && sink && (rg || n == 0), PAWL_E_INVALID, "NULL argument");
	ENSURE(u->refreshed, PAWL_E_INVALID, "refresh before downloading");
	ENSURE(u->n_targets > 0, PAWL_E_INVALID, "no target base URL configured");
	GUARD(ranges_check(t, rg, n, &s.total));
	s.pos = rg[0].offset;
	GUARD(target_remote_path(u, t, &rel));
	for (size_t i = 0; i < u->n_targets; i++) {
		_cleanup_buf_ pawl_buf url = PAWL_BUF_INIT(32768);
		pawl_event ev = { .kind = PAWL_EVENT_FETCH, .target = t->path };

		GUARD(url_join(&url, u->target_urls[i], rel.data));
		ev.url = url.data;
		for (int attempt = 0; attempt < RESUME_ATTEMPTS; attempt++) {
			uint64_t before = s.done;

			emit_event(u, &ev);
			r = ranges_from(&s, url.data);
			if (r == 0)
				return 0;
			/* Only a transport failure (or a missing file) moves on;
			 * wrong bytes have reached the sink already (a whole read
			 * that fails the signed hashes), or a server sent more
			 * than asked: nothing a mirror can mend. */
			if (r != PAWL_E_NETWORK && r != PAWL_E_NOT_FOUND)
				return r;
			if (r != PAWL_E_NETWORK || s.done == before)
				break;
		}
		{
			pawl_event rej = { .kind = PAWL_EVENT_REJECTED, .target = t->path,
					   .url = url.data, .code = r,
					   .message = pawl_error_last()->message };

			emit_event(u, &rej);
		}
		mirror_failure_note(&best, r);
	}
	return pawl_error_set(best.code, "%s", best.msg);
}
