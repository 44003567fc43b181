/*
 * updater.c - the TUF client workflow (TUF 1.0.x, section 5), step by step
 * in the specification's order, with python-tuf's request pattern so that
 * pawl behaves like the reference client on the wire.
 *
 * Trust moves in one direction only: bytes from a mirror or from the local
 * metadata directory become trusted metadata only through verify_*()
 * below, and only trusted metadata is written back to the directory.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "client/client.h"
#include "util/clock.h"

/* ---------------- small helpers ---------------- */

void mirror_failure_note(struct mirror_failure *f, int code)
{
	bool transport = f->code == PAWL_E_NETWORK || f->code == PAWL_E_NOT_FOUND;

	if (f->code == 0 || (transport && code != PAWL_E_NETWORK && code != PAWL_E_NOT_FOUND)) {
		f->code = code;
		snprintf(f->msg, sizeof(f->msg), "%s", pawl_error_last()->message);
	}
}

void emit_event(pawl_updater *u, const pawl_event *ev)
{
	if (u->o.on_event)
		u->o.on_event(ev, u->o.event_ctx);
}

static void emit_rejected(pawl_updater *u, const char *role, const char *url, int code)
{
	pawl_event ev = { .kind = PAWL_EVENT_REJECTED, .role = role, .url = url, .code = code,
			  .message = pawl_error_last()->message };

	emit_event(u, &ev);
}

static void emit_verified(pawl_updater *u, const char *role, uint64_t version)
{
	pawl_event ev = { .kind = PAWL_EVENT_VERIFIED, .role = role, .version = version };

	emit_event(u, &ev);
}

static uint64_t role_limit(const pawl_updater *u, int which)
{
	return u->max_bytes[which];
}

/* The local file name of a role's trusted metadata: "<quoted name>.json",
 * quoted as python-tuf does (every byte outside A-Z a-z 0-9 - . _ ~ is
 * %XX), so "/" can never appear and the name is one path component; the
 * result is never "." or "..", as it ends in ".json". A role name is data,
 * not a path. */
static int role_filename(pawl_buf *out, const char *role)
{
	GUARD(url_escape(out, role, strlen(role), false));
	GUARD(buf_puts(out, ".json"));
	if (out->len > 255)
		return pawl_error_set(PAWL_E_LIMIT, "role name \"%.64s...\" is too long for a file "
				      "name", role);
	return 0;
}

/* The remote file name: "[VERSION.]<quoted name>.json". */
static int role_remote_name(pawl_buf *out, const char *role, uint64_t version)
{
	if (version)
		GUARD(buf_printf(out, "%llu.", (unsigned long long)version));
	GUARD(url_escape(out, role, strlen(role), false));
	return buf_puts(out, ".json");
}

/*
 * Received metadata is kept byte for byte (the trusted file must be what
 * the repository served), but the parser works in place on its buffer.
 * Rather than hold a second copy in memory, the raw bytes go to a hidden
 * staging file first ("." prefix, ".part" suffix: never mistaken for
 * trusted metadata), which takes the role's file name only once every
 * check has passed (commit_raw), and is removed otherwise.
 */
static int stage_raw(pawl_updater *u, const char *role, const void *data, size_t len,
		     pawl_staged **ret)
{
	_cleanup_buf_ pawl_buf name = PAWL_BUF_INIT(600);
	pawl_staged *st;
	uint64_t existing;
	int r;

	GUARD(buf_putc(&name, '.'));
	GUARD(role_filename(&name, role));
	/* staged_open adds ".part" */
	GUARD(staged_open(&st, u->mdir_fd, name.data, false, &existing));
	r = staged_write(st, data, len);
	if (r < 0) {
		staged_discard(st);
		return r;
	}
	*ret = st;
	return 0;
}

static int commit_raw(pawl_updater *u, pawl_staged *st, const char *role)
{
	_cleanup_buf_ pawl_buf fn = PAWL_BUF_INIT(512);
	int r = role_filename(&fn, role);

	if (r < 0) {
		staged_discard(st);
		return r;
	}
	return staged_commit(st, u->mdir_fd, fn.data);
}

/* With a mirror directory, copy the trusted file of role there under its
 * repository name (see pawl_updater_opts.mirror_dir). */
static int mirror_copy(pawl_updater *u, const char *role, uint64_t version, int limit)
{
	_cleanup_buf_ pawl_buf fn = PAWL_BUF_INIT(512);
	_cleanup_buf_ pawl_buf remote = PAWL_BUF_INIT(600);
	_cleanup_free_ char *data = NULL;
	size_t len;

	if (u->mirror_fd < 0)
		return 0;
	GUARD(role_filename(&fn, role));
	GUARD(file_read_at(u->mdir_fd, fn.data, (size_t)role_limit(u, limit), &data, &len));
	GUARD(role_remote_name(&remote, role, version));
	return file_write_atomic_at(u->mirror_fd, remote.data, data, len, 0644);
}

static void unpersist(pawl_updater *u, const char *role)
{
	pawl_buf fn = PAWL_BUF_INIT(512);

	if (role_filename(&fn, role) == 0 && file_remove_at(u->mdir_fd, fn.data) < 0)
		pawl_error_clear();
	buf_free(&fn);
}

/* Read the local copy of a role; NULL data when absent or unreadable. */
static int read_local(pawl_updater *u, const char *role, uint64_t max, char **ret, size_t *len)
{
	_cleanup_buf_ pawl_buf fn = PAWL_BUF_INIT(512);

	GUARD(role_filename(&fn, role));
	return file_read_at(u->mdir_fd, fn.data, (size_t)max, ret, len);
}

/*
 * Fetch a metadata file from each mirror in turn until one yields bytes
 * that verify() accepts. verify() takes ownership of the buffer. A 404 or
 * 403 from every mirror is PAWL_E_NOT_FOUND; so is one from any mirror
 * when missing_ends is set (the root N+1 probe: a mirror that is down,
 * slow or forging must not stop the others from saying "no newer root").
 * Otherwise the most telling failure (a verification failure beats a
 * network one) is returned. Every message names the URL.
 */
typedef int (*verify_fn)(pawl_updater *u, void *ctx, char *data, size_t len, const char *url);

static int fetch_metadata(pawl_updater *u, const char *role, const char *remote, uint64_t max,
			  bool missing_ends, verify_fn verify, void *ctx)
{
	struct mirror_failure best = { 0, "" };
	bool all_missing = true, any_missing = false;

	for (size_t i = 0; i < u->n_meta; i++) {
		_cleanup_buf_ pawl_buf url = PAWL_BUF_INIT(8192);
		pawl_buf body = PAWL_BUF_INIT(max);
		pawl_event ev = { .kind = PAWL_EVENT_FETCH, .role = role };
		char *data;
		size_t len;
		int r;

		GUARD(url_join(&url, u->meta_urls[i], remote));
		ev.url = url.data;
		emit_event(u, &ev);
		r = fetcher_get_buf(u->fetcher, url.data, max, &body);
		if (r == 0) {
			GUARD(buf_steal(&body, &data, &len));
			r = verify(u, ctx, data, len, url.data);
			if (r == 0)
				return 0;
			if (!strstr(pawl_error_last()->message, url.data))
				pawl_error_prefix(r, "%s: ", url.data);
			emit_rejected(u, role, url.data, r);
		} else {
			buf_free(&body);
			/* A mirror that failed (other than "not there") is worth
			 * reporting even when the next one succeeds. */
			if (r != PAWL_E_NOT_FOUND)
				emit_rejected(u, role, url.data, r);
		}
		if (r != PAWL_E_NOT_FOUND)
			all_missing = false;
		else
			any_missing = true;
		mirror_failure_note(&best, r);
	}
	if ((all_missing && best.code == PAWL_E_NOT_FOUND) || (missing_ends && any_missing))
		return pawl_error_set(PAWL_E_NOT_FOUND, "%s", best.msg);
	return pawl_error_set(best.code ? best.code : PAWL_E_NETWORK, "%s",
			      best.code ? best.msg : "no metadata mirror configured");
}

/* ---------------- root (5.3) ---------------- */

static int verify_root_self(pawl_md *root)
{
	return md_verify(root, &root->keys, md_root_role(root, MD_ROOT), "root");
}

static int load_trusted_root(pawl_updater *u)
{
	char *data;
	size_t len;
	int r;

	r = read_local(u, "root", role_limit(u, PAWL_LIMIT_ROOT), &data, &len);
	if (r < 0)
		return pawl_error_prefix(r, "trusted root in %s: ", u->mdir);
	GUARD(md_parse(&u->root, data, len, MD_ROOT, "root"));
	r = verify_root_self(u->root);
	if (r < 0)
		return pawl_error_prefix(r, "trusted root in %s: ", u->mdir);
	return 0;
}

struct root_ctx {
	uint64_t want;
	pawl_md *out;
};

static bool same_keyids(const md_role *a, const md_role *b)
{
	if (a->nkeyids != b->nkeyids || a->threshold != b->threshold)
		return false;
	for (uint32_t i = 0; i < a->nkeyids; i++) {
		bool found = false;

		for (uint32_t j = 0; j < b->nkeyids && !found; j++)
			found = strcmp(a->keyids[i], b->keyids[j]) == 0;
		if (!found)
			return false;
	}
	return true;
}

/* 5.3.4-5.3.5: N+1 is signed by a threshold of N's root keys and of its
 * own, and its version is exactly N+1. */
static int verify_new_root(pawl_updater *u, void *vctx, char *data, size_t len, const char *url)
{
	struct root_ctx *c = vctx;
	_cleanup_md_ pawl_md *md = NULL;
	_cleanup_staged_ pawl_staged *st = NULL;
	int r;

	r = stage_raw(u, "root", data, len, &st);
	if (r < 0) {
		free(data);
		return r;
	}
	GUARD(md_parse(&md, data, len, MD_ROOT, "root"));
	r = md_verify(md, &u->root->keys, md_root_role(u->root, MD_ROOT), "root");
	if (r < 0)
		return pawl_error_prefix(r, "new root from %s is not signed by trusted root v%llu: ",
					 url, (unsigned long long)u->root->version);
	r = md_verify(md, &md->keys, md_root_role(md, MD_ROOT), "root");
	if (r < 0)
		return pawl_error_prefix(r, "new root from %s is not signed by its own keys: ", url);
	if (md->version != c->want)
		return pawl_error_set(PAWL_E_ROLLBACK, "root: expected version %llu at %s, got %llu",
				      (unsigned long long)c->want, url,
				      (unsigned long long)md->version);
	/* 5.3.11: new timestamp or snapshot keys make the old files useless
	 * as rollback references (an attacker-free repository may restart
	 * their versions); delete them before the new root takes effect, so
	 * that a crash in between cannot leave a stale timestamp standing
	 * beside the new root. */
	if (!same_keyids(md_root_role(u->root, MD_TIMESTAMP), md_root_role(md, MD_TIMESTAMP)) ||
	    !same_keyids(md_root_role(u->root, MD_SNAPSHOT), md_root_role(md, MD_SNAPSHOT))) {
		unpersist(u, "timestamp");
		unpersist(u, "snapshot");
	}
	/* Only now is it trusted: persist it before moving on. */
	GUARD(commit_raw(u, TAKE_PTR(st), "root"));
	GUARD(mirror_copy(u, "root", md->version, PAWL_LIMIT_ROOT));
	c->out = TAKE_PTR(md);
	return 0;
}


static int update_root(pawl_updater *u)
{
	int r = 0;

	for (uint32_t i = 0; i < u->max_root_rotations; i++) {
		_cleanup_buf_ pawl_buf remote = PAWL_BUF_INIT(64);
		struct root_ctx c = { u->root->version + 1, NULL };
		pawl_event ev = { .kind = PAWL_EVENT_ROOT_ROTATED, .role = "root" };

		GUARD_GOTO(r, buf_printf(&remote, "%llu.root.json", (unsigned long long)c.want), out);
		r = fetch_metadata(u, "root", remote.data, role_limit(u, PAWL_LIMIT_ROOT), true,
				   verify_new_root, &c);
		if (r == PAWL_E_NOT_FOUND) {
			r = 0;
			pawl_error_clear();
			break;
		}
		if (r < 0)
			goto out;
		ev.old_version = u->root->version;
		ev.version = c.out->version;
		md_free(u->root);
		u->root = c.out;
		emit_event(u, &ev);
	}
	/* 5.3.10: only the final root must be unexpired (freeze attack). */
	GUARD_GOTO(r, md_check_expiry(u->root, u->now, "root"), out);
out:
	if (r == 0)
		emit_verified(u, "root", u->root->version);
	return r;
}

/* ---------------- timestamp (5.4) ---------------- */

static int verify_timestamp_sig(pawl_updater *u, pawl_md *ts)
{
	return md_verify(ts, &u->root->keys, md_root_role(u->root, MD_TIMESTAMP), "timestamp");
}

#define EQUAL_VERSION 1

static int verify_new_timestamp(pawl_updater *u, void *vctx, char *data, size_t len,
				const char *url)
{
	_cleanup_md_ pawl_md *md = NULL;
	_cleanup_staged_ pawl_staged *st = NULL;
	int *equal = vctx;
	int r;

	r = stage_raw(u, "timestamp", data, len, &st);
	if (r < 0) {
		free(data);
		return r;
	}
	GUARD(md_parse(&md, data, len, MD_TIMESTAMP, "timestamp"));
	GUARD(verify_timestamp_sig(u, md));
	if (u->timestamp) {
		/* 5.4.3: versions never go back; an equal version is the same
		 * timestamp again, and the trusted one stays. */
		if (md->version < u->timestamp->version)
			return pawl_error_set(PAWL_E_ROLLBACK,
					      "timestamp: version %llu from %s is older than trusted "
					      "version %llu", (unsigned long long)md->version, url,
					      (unsigned long long)u->timestamp->version);
		if (md->version == u->timestamp->version) {
			*equal = 1;
			return 0;
		}
		if (md->snapshot_meta.version < u->timestamp->snapshot_meta.version)
			return pawl_error_set(PAWL_E_ROLLBACK,
					      "timestamp v%llu names snapshot v%llu, older than "
					      "trusted snapshot v%llu", (unsigned long long)md->version,
					      (unsigned long long)md->snapshot_meta.version,
					      (unsigned long long)u->timestamp->snapshot_meta.version);
	}
	/* 5.4.4 */
	GUARD(md_check_expiry(md, u->now, "timestamp"));
	GUARD(commit_raw(u, TAKE_PTR(st), "timestamp"));
	md_free(u->timestamp);
	u->timestamp = TAKE_PTR(md);
	return 0;
}

static int update_timestamp(pawl_updater *u)
{
	char *data;
	size_t len;
	int equal = 0;

	/* The local copy, if it verifies, is the reference for rollback. */
	if (read_local(u, "timestamp", role_limit(u, PAWL_LIMIT_TIMESTAMP), &data, &len) == 0) {
		pawl_md *md;

		if (md_parse(&md, data, len, MD_TIMESTAMP, "timestamp") == 0) {
			if (verify_timestamp_sig(u, md) == 0)
				u->timestamp = md;
			else
				md_free(md);
		}
	}
	pawl_error_clear();
	GUARD(fetch_metadata(u, "timestamp", "timestamp.json", role_limit(u, PAWL_LIMIT_TIMESTAMP),
			     false, verify_new_timestamp, &equal));
	/* Whichever timestamp is trusted now must be unexpired. */
	GUARD(md_check_expiry(u->timestamp, u->now, "timestamp"));
	GUARD(mirror_copy(u, "timestamp", 0, PAWL_LIMIT_TIMESTAMP));
	emit_verified(u, "timestamp", u->timestamp->version);
	return 0;
}

/* ---------------- snapshot (5.5) ---------------- */

static int verify_snapshot_common(pawl_updater *u, pawl_md *md, pawl_md *prev)
{
	GUARD(md_verify(md, &u->root->keys, md_root_role(u->root, MD_SNAPSHOT), "snapshot"));
	/* 5.5.5: no targets role may disappear or go back in version. */
	if (prev) {
		for (uint32_t i = 0; i < prev->meta->len; i++) {
			const pj_member *m = &prev->meta->u.members[i];
			md_metafile old, cur;

			GUARD(md_metafile_parse(&m->value, &old, m->key));
			if (md_meta_get(md, m->key, &cur) < 0)
				return pawl_error_set(PAWL_E_ROLLBACK,
						      "snapshot v%llu drops %s, which trusted snapshot "
						      "v%llu lists", (unsigned long long)md->version,
						      m->key, (unsigned long long)prev->version);
			if (cur.version < old.version)
				return pawl_error_set(PAWL_E_ROLLBACK,
						      "snapshot v%llu lists %s v%llu, older than v%llu "
						      "in trusted snapshot v%llu",
						      (unsigned long long)md->version, m->key,
						      (unsigned long long)cur.version,
						      (unsigned long long)old.version,
						      (unsigned long long)prev->version);
		}
	}
	/* 5.5.4 (the version timestamp names) and 5.5.6 (expiry). */
	if (md->version != u->timestamp->snapshot_meta.version)
		return pawl_error_set(PAWL_E_ROLLBACK,
				      "snapshot: timestamp v%llu names version %llu, got %llu",
				      (unsigned long long)u->timestamp->version,
				      (unsigned long long)u->timestamp->snapshot_meta.version,
				      (unsigned long long)md->version);
	return md_check_expiry(md, u->now, "snapshot");
}

static int verify_new_snapshot(pawl_updater *u, void *vctx, char *data, size_t len,
			       const char *url)
{
	const md_metafile *mf = &u->timestamp->snapshot_meta;
	pawl_md **prev = vctx;
	_cleanup_md_ pawl_md *md = NULL;
	int r;

	/* 5.5.2: length and hashes from timestamp, before parsing a byte. */
	r = md_check_content(data, len, mf->has_length, mf->length, mf->hashes, url);
	if (r < 0) {
		free(data);
		return r;
	}
	{
		_cleanup_staged_ pawl_staged *st = NULL;

		r = stage_raw(u, "snapshot", data, len, &st);
		if (r < 0) {
			free(data);
			return r;
		}
		GUARD(md_parse(&md, data, len, MD_SNAPSHOT, "snapshot"));
		GUARD(verify_snapshot_common(u, md, *prev));
		GUARD(commit_raw(u, TAKE_PTR(st), "snapshot"));
	}
	u->snapshot = TAKE_PTR(md);
	return 0;
}

static int update_snapshot(pawl_updater *u)
{
	const md_metafile *mf = &u->timestamp->snapshot_meta;
	_cleanup_md_ pawl_md *prev = NULL;
	_cleanup_buf_ pawl_buf remote = PAWL_BUF_INIT(64);
	uint64_t max = mf->has_length ? mf->length : role_limit(u, PAWL_LIMIT_SNAPSHOT);
	char *data;
	size_t len;

	/* A local snapshot that verifies and is exactly what timestamp names
	 * is final: nothing to fetch. One that only verifies is still the
	 * reference for rollback checks. */
	if (read_local(u, "snapshot", role_limit(u, PAWL_LIMIT_SNAPSHOT), &data, &len) == 0) {
		pawl_md *md;

		if (md_parse(&md, data, len, MD_SNAPSHOT, "snapshot") == 0) {
			if (md_verify(md, &u->root->keys, md_root_role(u->root, MD_SNAPSHOT),
				      "snapshot") < 0) {
				md_free(md);
			} else if (verify_snapshot_common(u, md, NULL) == 0) {
				u->snapshot = md;
				pawl_error_clear();
				GUARD(mirror_copy(u, "snapshot",
						  u->root->consistent_snapshot ? md->version : 0,
						  PAWL_LIMIT_SNAPSHOT));
				emit_verified(u, "snapshot", md->version);
				return 0;
			} else {
				prev = md;
			}
		}
	}
	pawl_error_clear();
	GUARD(role_remote_name(&remote, "snapshot", u->root->consistent_snapshot ? mf->version : 0));
	GUARD(fetch_metadata(u, "snapshot", remote.data, max, false, verify_new_snapshot, &prev));
	GUARD(mirror_copy(u, "snapshot", u->root->consistent_snapshot ? u->snapshot->version : 0,
			  PAWL_LIMIT_SNAPSHOT));
	emit_verified(u, "snapshot", u->snapshot->version);
	return 0;
}

/* ---------------- targets and delegated targets (5.6, 5.7) ---------------- */

struct targets_ctx {
	const char *role;
	const md_keys *keys;
	const md_role *delegation;
	md_metafile meta;
	pawl_md *out;
	bool local;
};

static int verify_targets_common(pawl_updater *u, struct targets_ctx *c, char *data, size_t len,
				 const char *where, pawl_md **ret)
{
	_cleanup_md_ pawl_md *md = NULL;
	int r;

	/* 5.6.2: length and hashes from snapshot, when it gives them. */
	r = md_check_content(data, len, c->meta.has_length, c->meta.length, c->meta.hashes, where);
	if (r < 0) {
		free(data);
		return r;
	}
	/* Large roles are verified without a canonical copy where they
	 * allow it (md_parse_verify). */
	GUARD(md_parse_verify(&md, data, len, MD_TARGETS, c->role, c->keys, c->delegation, NULL));
	if (md->version != c->meta.version)
		return pawl_error_set(PAWL_E_ROLLBACK,
				      "%s: snapshot v%llu names version %llu, got %llu", c->role,
				      (unsigned long long)u->snapshot->version,
				      (unsigned long long)c->meta.version,
				      (unsigned long long)md->version);
	GUARD(md_check_expiry(md, u->now, c->role));
	*ret = TAKE_PTR(md);
	return 0;
}

static int verify_new_targets(pawl_updater *u, void *vctx, char *data, size_t len,
			      const char *url)
{
	struct targets_ctx *c = vctx;
	_cleanup_staged_ pawl_staged *st = NULL;
	pawl_md *md;
	int r;

	r = stage_raw(u, c->role, data, len, &st);
	if (r < 0) {
		free(data);
		return r;
	}
	GUARD(verify_targets_common(u, c, data, len, url, &md));
	r = commit_raw(u, TAKE_PTR(st), c->role);
	if (r < 0) {
		md_free(md);
		return r;
	}
	c->out = md;
	return 0;
}

static struct loaded_role *find_loaded(pawl_updater *u, const char *role)
{
	for (size_t i = 0; i < u->nloaded; i++)
		if (strcmp(u->loaded[i].name, role) == 0)
			return &u->loaded[i];
	return NULL;
}

/*
 * Load a targets role that delegator (NULL: root, for "targets") delegates
 * to through the entry deleg, verifying it against that delegator. A role
 * already loaded in this session is re-verified against the delegator of
 * the current search rather than reused on its name alone.
 */
static int load_targets(pawl_updater *u, const char *role, const char *delegator,
			const md_keys *keys, const md_role *deleg, pawl_md **ret)
{
	struct targets_ctx c = { .role = role, .keys = keys, .delegation = deleg };
	struct loaded_role *lr = find_loaded(u, role);
	_cleanup_buf_ pawl_buf remote = PAWL_BUF_INIT(1024);
	_cleanup_buf_ pawl_buf metaname = PAWL_BUF_INIT(1024);
	uint64_t max;
	char *data;
	size_t len;
	int r;

	if (lr) {
		if (strcmp(lr->delegator, delegator) != 0) {
			r = md_verify(lr->md, keys, deleg, role);
			if (r < 0)
				return pawl_error_prefix(r, "%s (delegated by %s): ", role, delegator);
		}
		*ret = lr->md;
		return 0;
	}
	GUARD(buf_printf(&metaname, "%s.json", role));
	r = md_meta_get(u->snapshot, metaname.data, &c.meta);
	if (r < 0)
		return pawl_error_set(PAWL_E_NOT_FOUND,
				      "role %s is delegated by %s but snapshot v%llu does not list "
				      "it", role, delegator, (unsigned long long)u->snapshot->version);
	max = c.meta.has_length ? c.meta.length : role_limit(u, PAWL_LIMIT_TARGETS);

	if (read_local(u, role, max, &data, &len) == 0 &&
	    verify_targets_common(u, &c, data, len, role, &c.out) == 0) {
		c.local = true;
	} else {
		pawl_error_clear();
		GUARD(role_remote_name(&remote, role,
				       u->root->consistent_snapshot ? c.meta.version : 0));
		GUARD(fetch_metadata(u, role, remote.data, max, false, verify_new_targets, &c));
	}
	if (u->nloaded == u->capl) {
		size_t n = u->capl ? u->capl * 2 : 8;
		struct loaded_role *p = xreallocarray(u->loaded, n, sizeof(*p));

		if (!p) {
			md_free(c.out);
			return PAWL_E_NOMEM;
		}
		u->loaded = p;
		u->capl = n;
	}
	lr = &u->loaded[u->nloaded];
	lr->name = xstrdup(role);
	lr->delegator = xstrdup(delegator);
	if (!lr->name || !lr->delegator) {
		free(lr->name);
		free(lr->delegator);
		md_free(c.out);
		return PAWL_E_NOMEM;
	}
	lr->md = c.out;
	u->nloaded++;
	GUARD(mirror_copy(u, role, u->root->consistent_snapshot ? c.out->version : 0,
			  PAWL_LIMIT_TARGETS));
	emit_verified(u, role, c.out->version);
	*ret = c.out;
	return 0;
}

static int load_top_targets(pawl_updater *u, pawl_md **ret)
{
	return load_targets(u, "targets", "root", &u->root->keys,
			    md_root_role(u->root, MD_TARGETS), ret);
}

/* ---------------- public API ---------------- */

static char **dup_list(const char *const *v, size_t n)
{
	char **out = xcalloc(n ? n : 1, sizeof(*out));

	if (!out)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		out[i] = xstrdup(v[i]);
		if (!out[i]) {
			for (size_t j = 0; j < i; j++)
				free(out[j]);
			free(out);
			return NULL;
		}
	}
	return out;
}

static void free_list(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void reset_trust(pawl_updater *u)
{
	md_free(u->root);
	md_free(u->timestamp);
	md_free(u->snapshot);
	u->root = u->timestamp = u->snapshot = NULL;
	for (size_t i = 0; i < u->nloaded; i++) {
		free(u->loaded[i].name);
		free(u->loaded[i].delegator);
		md_free(u->loaded[i].md);
	}
	u->nloaded = 0;
	u->refreshed = false;
}

PAWL_API void pawl_updater_free(pawl_updater *u)
{
	if (!u)
		return;
	reset_trust(u);
	free(u->loaded);
	lock_release(u->lock);
	fetcher_free(u->fetcher);
	if (u->mdir_fd >= 0)
		close(u->mdir_fd);
	if (u->mirror_fd >= 0)
		close(u->mirror_fd);
	free(u->mirror_dir);
	free(u->mdir);
	free_list(u->meta_urls, u->n_meta);
	free_list(u->target_urls, u->n_targets);
	free(u);
}

/* The size of a version 1 pawl_updater_opts: up to mirror_dir. */
#define OPTS_V1_SIZE (offsetof(pawl_updater_opts, mirror_dir) + sizeof(const char *))
_Static_assert(PAWL_DEFAULT_MIN_RATE == FETCH_DEFAULT_MIN_RATE &&
		       PAWL_DEFAULT_DEADLINE_BASE == FETCH_DEFAULT_DEADLINE_BASE,
	       "the documented defaults are the transport's");

PAWL_API int pawl_updater_new(pawl_updater **out, const pawl_updater_opts *o)
{
	static const uint64_t defaults[4] = { PAWL_DEFAULT_MAX_ROOT, PAWL_DEFAULT_MAX_TIMESTAMP,
					      PAWL_DEFAULT_MAX_SNAPSHOT,
					      PAWL_DEFAULT_MAX_TARGETS };
	fetch_opts fo = FETCH_OPTS_INIT;
	pawl_updater *u;
	int r;

	ENSURE(out && o, PAWL_E_INVALID, "pawl_updater_new: NULL argument");
	ENSURE(o->version >= 1 && o->version <= PAWL_UPDATER_OPTS_VERSION, PAWL_E_INVALID,
	       "pawl_updater_new: options version %u is not supported", o->version);
	ENSURE(o->metadata_dir && *o->metadata_dir, PAWL_E_INVALID, "no metadata directory given");
	for (size_t i = 0; i < o->n_metadata_urls; i++)
		GUARD(fetch_url_allowed(o->metadata_urls[i]));
	for (size_t i = 0; i < o->n_target_urls; i++)
		GUARD(fetch_url_allowed(o->target_urls[i]));

	u = xcalloc(1, sizeof(*u));
	if (!u)
		return PAWL_E_NOMEM;
	u->mdir_fd = -1;
	u->mirror_fd = -1;
	/* A caller built against older headers passed a smaller struct: read
	 * only the fields its version has (docs/abi.md); the rest stay 0,
	 * the defaults. */
	memcpy(&u->o, o, o->version >= 2 ? sizeof(*o) : OPTS_V1_SIZE);
	u->mdir = xstrdup(o->metadata_dir);
	u->meta_urls = dup_list(o->metadata_urls, o->n_metadata_urls);
	u->n_meta = o->n_metadata_urls;
	u->target_urls = dup_list(o->target_urls, o->n_target_urls);
	u->n_targets = o->n_target_urls;
	if (!u->mdir || !u->meta_urls || !u->target_urls) {
		r = PAWL_E_NOMEM;
		goto fail;
	}
	for (int i = 0; i < 4; i++)
		u->max_bytes[i] = o->max_bytes[i] ? o->max_bytes[i] : defaults[i];
	u->max_root_rotations = o->max_root_rotations ? o->max_root_rotations : 256;
	u->max_delegations = o->max_delegations ? o->max_delegations : 32;

	fo.user_agent = o->user_agent;
	fo.ca_file = o->ca_file;
	fo.pin = o->pin;
	if (o->connect_timeout_s > 0)
		fo.connect_timeout_s = o->connect_timeout_s;
	if (o->low_speed_time_s > 0)
		fo.low_speed_time_s = o->low_speed_time_s;
	if (o->low_speed_bytes > 0)
		fo.low_speed_bytes = o->low_speed_bytes;
	if (o->total_timeout_s > 0)
		fo.total_timeout_s = o->total_timeout_s;
	if (u->o.min_rate_bytes > 0)
		fo.min_rate_bytes = u->o.min_rate_bytes;
	if (u->o.deadline_base_s > 0)
		fo.deadline_base_s = u->o.deadline_base_s;
	GUARD_GOTO(r, fetcher_new(&u->fetcher, &fo), fail);
	GUARD_GOTO(r, dir_open(u->mdir, &u->mdir_fd), fail);
	if (o->mirror_dir) {
		_cleanup_buf_ pawl_buf md = PAWL_BUF_INIT(8192);

		u->mirror_dir = xstrdup(o->mirror_dir);
		ENSURE_GOTO(r, u->mirror_dir, PAWL_E_NOMEM, fail, "out of memory");
		GUARD_GOTO(r, buf_printf(&md, "%s/metadata", o->mirror_dir), fail);
		GUARD_GOTO(r, dir_create(md.data, 0755), fail);
		GUARD_GOTO(r, dir_open(md.data, &u->mirror_fd), fail);
	}
	r = lock_acquire(&u->lock, u->mdir_fd, ".lock", o->lock_timeout_s);
	if (r < 0) {
		pawl_error_prefix(r, "metadata directory %s: ", u->mdir);
		goto fail;
	}
	*out = u;
	return 0;
fail:
	pawl_updater_free(u);
	return r;
}

PAWL_API int pawl_updater_refresh(pawl_updater *u)
{
	pawl_md *targets;
	int r;

	ENSURE(u, PAWL_E_INVALID, "NULL updater");
	ENSURE(u->n_meta > 0, PAWL_E_INVALID, "no metadata URL configured");
	reset_trust(u);
	/* 5.1: one reference time for the whole update. */
	u->now = pawl_now();
	GUARD_GOTO(r, load_trusted_root(u), fail);
	GUARD_GOTO(r, update_root(u), fail);
	GUARD_GOTO(r, update_timestamp(u), fail);
	GUARD_GOTO(r, update_snapshot(u), fail);
	GUARD_GOTO(r, load_top_targets(u, &targets), fail);
	u->refreshed = true;
	return 0;
fail:
	emit_rejected(u, NULL, NULL, r);
	return r;
}

/* Version and SHA-256 of a root file, for messages and the audit log; a
 * file that does not parse as a root has version 0. Consumes buf. */
static void root_describe(char *buf, size_t len, uint64_t *ret_version, char ret_sha256[65])
{
	uint8_t d[HASH_MAX_LEN];
	pawl_md *md = NULL;

	if (hash_once(HASH_SHA256, buf, len, d) == 0)
		hex_encode(ret_sha256, d, 32);
	else
		snprintf(ret_sha256, 65, "?");
	*ret_version = md_parse(&md, buf, len, MD_ROOT, "root") == 0 ? md->version : 0;
	md_free(md);
	pawl_error_clear();
}

static const char *version_relation(uint64_t given, uint64_t trusted)
{
	if (trusted == 0)
		return "another file";
	if (given < trusted)
		return "an older version";
	if (given > trusted)
		return "a newer version";
	return "the same version with other content";
}

int metadata_dir_install_root(const char *metadata_dir, const void *root_json, size_t len,
			      bool replace, root_install_info *ret)
{
	_cleanup_md_ pawl_md *md = NULL;
	_cleanup_close_ int fd = -1;
	_cleanup_lock_ pawl_lock *lock = NULL;
	_cleanup_free_ char *old = NULL;
	root_install_info info = { 0 };
	uint8_t d[HASH_MAX_LEN];
	size_t old_len = 0;
	char *copy;
	int r = PAWL_E_NOT_FOUND;

	ENSURE(metadata_dir && root_json, PAWL_E_INVALID, "NULL argument");
	ENSURE(len <= PAWL_DEFAULT_MAX_ROOT, PAWL_E_LIMIT, "trusted root is over %d bytes",
	       PAWL_DEFAULT_MAX_ROOT);
	copy = xmalloc(len + 1);
	if (!copy)
		return PAWL_E_NOMEM;
	memcpy(copy, root_json, len);
	GUARD(md_parse(&md, copy, len, MD_ROOT, "root"));
	r = verify_root_self(md);
	if (r < 0)
		return pawl_error_prefix(r, "trusted root is not signed by its own keys: ");
	info.new_version = md->version;
	GUARD(hash_once(HASH_SHA256, root_json, len, d));
	hex_encode(info.new_sha256, d, 32);

	GUARD(dir_create(metadata_dir, 0755));
	GUARD(dir_open(metadata_dir, &fd));
	/* Anything already at root.json is trust someone placed there: a
	 * root, a larger root, or something unreadable (a link, a directory)
	 * all count as present. Only a missing file is free, and it is taken
	 * with a create that cannot replace, so a root placed meanwhile (a
	 * second init) is judged like any other rather than overwritten. No
	 * lock file for that: init leaves root.json alone in a new directory.
	 * A forced replacement does take the directory lock, so that it does
	 * not land in the middle of a refresh. */
	if (replace) {
		r = lock_acquire(&lock, fd, STORE_LOCK_NAME, REPLACE_LOCK_TIMEOUT_S);
		if (r < 0)
			return pawl_error_prefix(r, "metadata directory %s: ", metadata_dir);
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		bool existed;

		r = file_read_at(fd, "root.json", PAWL_DEFAULT_MAX_ROOT, &old, &old_len);
		if (r != PAWL_E_NOT_FOUND)
			break;
		pawl_error_clear();
		GUARD(file_create_atomic_at(fd, "root.json", root_json, len, 0644, &existed));
		if (!existed) {
			if (ret)
				*ret = info;
			return 0;
		}
	}
	ENSURE(r != PAWL_E_NOT_FOUND, PAWL_E_IO, "%s/root.json keeps appearing and disappearing",
	       metadata_dir);
	info.had_root = true;
	if (r == 0 && old_len == len && memcmp(old, root_json, len) == 0) {
		info.identical = true;
		info.old_version = info.new_version;
		snprintf(info.old_sha256, sizeof(info.old_sha256), "%s", info.new_sha256);
	} else if (r == 0) {
		root_describe(TAKE_PTR(old), old_len, &info.old_version, info.old_sha256);
	} else {
		pawl_error_clear();
		snprintf(info.old_sha256, sizeof(info.old_sha256), "unreadable");
	}
	if (!info.identical && !replace)
		return pawl_error_set(
			PAWL_E_POLICY,
			"%s/root.json already holds a trusted root (version %llu, sha256 %.16s...) "
			"and the root given differs (version %llu, sha256 %.16s..., %s): a trusted "
			"root is never replaced silently",
			metadata_dir, (unsigned long long)info.old_version, info.old_sha256,
			(unsigned long long)info.new_version, info.new_sha256,
			version_relation(info.new_version, info.old_version));
	if (!info.identical)
		GUARD(file_write_atomic_at(fd, "root.json", root_json, len, 0644));
	if (ret)
		*ret = info;
	return 0;
}

PAWL_API int pawl_metadata_dir_init(const char *metadata_dir, const void *root_json, size_t len)
{
	return metadata_dir_install_root(metadata_dir, root_json, len, false, NULL);
}

PAWL_API int pawl_metadata_dir_install_root(const char *metadata_dir, const void *root_json,
					    size_t len, unsigned flags, pawl_root_info *out)
{
	ENSURE(metadata_dir && root_json, PAWL_E_INVALID, "metadata_dir_install_root: NULL argument");
	ENSURE((flags & ~PAWL_ROOT_REPLACE) == 0, PAWL_E_INVALID,
	       "metadata_dir_install_root: unknown flags 0x%x", flags);
	return metadata_dir_install_root(metadata_dir, root_json, len,
					 (flags & PAWL_ROOT_REPLACE) != 0, out);
}

PAWL_API uint64_t pawl_updater_role_version(const pawl_updater *u, const char *role)
{
	if (!u || !role)
		return 0;
	if (strcmp(role, "root") == 0)
		return u->root ? u->root->version : 0;
	if (strcmp(role, "timestamp") == 0)
		return u->timestamp ? u->timestamp->version : 0;
	if (strcmp(role, "snapshot") == 0)
		return u->snapshot ? u->snapshot->version : 0;
	for (size_t i = 0; i < u->nloaded; i++)
		if (strcmp(u->loaded[i].name, role) == 0)
			return u->loaded[i].md->version;
	return 0;
}

int updater_load_targets(pawl_updater *u, const char *role, const char *delegator,
			 const md_keys *keys, const md_role *deleg, pawl_md **ret)
{
	return load_targets(u, role, delegator, keys, deleg, ret);
}

int updater_top_targets(pawl_updater *u, pawl_md **ret)
{
	return load_top_targets(u, ret);
}
