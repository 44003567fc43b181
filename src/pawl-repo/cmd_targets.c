/*
 * cmd_targets.c - `pawl-repo add` and `pawl-repo remove`, and the work of
 * `release`.
 *
 * add is built for large batches: every file is read and hashed exactly
 * once while it is copied into the content store, entries are appended to
 * their role's "targets" object unsorted (md_bulk_target), and each
 * changed role is sorted and validated once at the end (md_bulk_finish).
 * Adding n targets costs O(n log n), not the O(n^2) of n md_target_put().
 *
 * Published releases are immutable (issue 15, 4). A release is a target
 * APP/VERSION/NAME whose custom data says {"version": "VERSION"}, exactly
 * what the agent installs (agent.c release_info). Devices that installed
 * it hold its bytes under that version, so:
 *  - `release` of an APP/VERSION the workspace already has with other
 *    content (another file, or another NAME) is refused; with the same
 *    content it changes nothing, except that --recovery marks it;
 *  - `add` over an existing path with other content warns, and for a
 *    release is refused unless --replace is given; so is adding a second
 *    release for an APP/VERSION that has one.
 * "Existing" means listed before this command: each role's targets as they
 * were before the batch appended to them (the first batch_base members,
 * still sorted: pj_getn_finished), so the checks cost O(log n) per file.
 * A file that may be refused is hashed before it reaches the store, and
 * the stored copy must then have the same digests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content.h"
#include "repo.h"

static const char usage_add[] =
	"usage: pawl-repo add REPO TARGETPATH FILE [options]\n"
	"       pawl-repo add REPO --from-dir DIR [--prefix PATH] [options]\n"
	"       pawl-repo add REPO --manifest FILE [options]\n"
	"\n"
	"Add targets: the file's length and hashes go into the metadata, its content\n"
	"into the workspace's store (REPO/targets). An existing target of the same path\n"
	"and content keeps its content (its custom data is updated); with other content\n"
	"it is replaced, with a warning. A release (APP/VERSION/NAME with custom data\n"
	"{\"version\": \"VERSION\"}) is immutable: replacing one, or adding a second\n"
	"release of the same APP/VERSION, is refused without --replace. The changed role\n"
	"gets a new version once per publication, a fresh expiry and no signatures;\n"
	"--key signs it at once.\n"
	"\n"
	"  --custom JSON      a JSON object stored as the target's \"custom\" field\n"
	"  --role ROLE        the role that lists the target (default: targets, or the\n"
	"                     hash bin of the path when targets delegates to hash bins);\n"
	"                     ROLE must be trusted for the path by its delegation\n"
	"  --key KEY          sign the changed roles with KEY (repeatable)\n"
	"  --from-dir DIR     add every regular file below DIR, as PREFIX/RELATIVE/PATH\n"
	"  --prefix PATH      the target path prefix for --from-dir (default: none)\n"
	"  --manifest FILE    one target per line: TARGETPATH<TAB>FILE[<TAB>CUSTOM_JSON];\n"
	"                     empty lines and lines starting with # are skipped; relative\n"
	"                     FILEs are relative to the current directory\n"
	"  --replace          replace releases (and add a second release of a version)\n"
	"                     although devices that installed them keep the old bytes\n"
	"  --link             hard-link the files into the store instead of copying them\n"
	"                     (same file system; much faster for large batches). Do not\n"
	"                     change the files in place afterwards: publish re-checks\n"
	"                     every hash and refuses changed content\n"
	"Files are opened without following symbolic links.\n";

static const char usage_remove[] =
	"usage: pawl-repo remove REPO TARGETPATH [TARGETPATH ...] [--role ROLE] [--key KEY ...]\n"
	"\n"
	"Remove targets from the role that lists them (--role when several do). The\n"
	"content stays in the store and in published trees; clients stop seeing the\n"
	"target once the new metadata is published. A pack that a remaining image\n"
	"release reads from, or part of an image release without the rest, is\n"
	"refused: remove image.idx, image.sums and image.pack together, newest first.\n";

/* ---------------- routing ---------------- */

/* Is r trusted for path along its whole delegation chain? */
static int covers(ws *w, ws_role *r, const char *path)
{
	for (ws_role *x = r; x->parent; x = x->parent) {
		const md_keys *keys;
		const md_role *mr;
		const md_delegations *d = &x->parent->md->deleg;

		GUARD(ws_role_keys(w, x, &keys, &mr));
		if (d->succinct_present && mr == &d->succinct.role) {
			char bin[ROLE_NAME_MAX + 16];

			GUARD(md_succinct_role_for(&d->succinct, path, bin, sizeof(bin)));
			ENSURE(strcmp(bin, x->name) == 0, PAWL_E_INVALID,
			       "target %s belongs in hash bin %s, not %s (leave out --role to "
			       "choose the bin automatically)",
			       path, bin, x->name);
			continue;
		}
		ENSURE(md_role_matches(mr, path), PAWL_E_INVALID,
		       "%s does not trust %s for %s: the delegation's paths do not match it "
		       "(see `pawl-repo status`); clients would never look there",
		       x->parent->name, x->name, path);
	}
	return 0;
}

static int route(ws *w, const char *path, const char *explicit_role, ws_role **ret)
{
	ws_role *r;

	if (explicit_role) {
		GUARD(ws_find(w, explicit_role, &r));
		ENSURE(r->type == MD_TARGETS, PAWL_E_INVALID, "%s cannot list targets",
		       explicit_role);
		GUARD(covers(w, r, path));
		*ret = r;
		return 0;
	}
	GUARD(ws_walk(w));
	r = ws_top(w, MD_TARGETS);
	while (r->md->has_delegations && r->md->deleg.succinct_present) {
		char bin[ROLE_NAME_MAX + 16];

		GUARD(md_succinct_role_for(&r->md->deleg.succinct, path, bin, sizeof(bin)));
		GUARD(ws_find(w, bin, &r));
	}
	*ret = r;
	return 0;
}

/* ---------------- the batch ---------------- */

/* An existing release (see the top of the file). */
struct prior {
	char *prefix; /* "APP/VERSION/" */
	char *path;
	uint64_t length;
	char sha256[65];  /* "" when not listed */
	char sha512[129]; /* "" when not listed */
	bool recovery;
};

struct batch {
	ws *w;
	const char *explicit_role;
	const pj_value *custom; /* for every entry, or NULL */
	bool link;              /* hard-link sources into the store */
	bool replace;           /* add --replace */
	bool release;           /* release: the rules for APP/VERSION */
	bool recovery;          /* release --recovery */
	size_t unchanged;       /* release: already there, nothing to do */
	struct prior *priors;   /* every release listed before, by prefix */
	size_t npriors;
	bool priors_built;
	ws_role **touched;
	size_t ntouched, captouched;
	size_t count;
	uint64_t bytes;
	jtarget *list; /* every target, for the audit log */
	size_t nlist, caplist;
};

static int list_push(struct batch *b, const char *path, const char *sha256, uint64_t length,
		     ws_role *r)
{
	jtarget *t;

	if (b->nlist == b->caplist) {
		size_t cap = b->caplist ? b->caplist * 2 : 64;
		jtarget *v = xreallocarray(b->list, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		b->list = v;
		b->caplist = cap;
	}
	t = &b->list[b->nlist];
	t->path = xstrdup(path);
	if (!t->path)
		return PAWL_E_NOMEM;
	snprintf(t->sha256, sizeof(t->sha256), "%s", sha256);
	t->length = length;
	t->role = r;
	t->seq = b->nlist++;
	return 0;
}

static void batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->npriors; i++) {
		free(b->priors[i].prefix);
		free(b->priors[i].path);
	}
	free(b->priors);
	for (size_t i = 0; i < b->nlist; i++)
		free(b->list[i].path);
	free(b->list);
	free(b->touched);
}

static int touch_mark(struct batch *b, ws_role *r)
{
	if (r->marked)
		return 0;
	if (b->ntouched == b->captouched) {
		size_t cap = b->captouched ? b->captouched * 2 : 16;
		ws_role **v = xreallocarray(b->touched, cap, sizeof(*v));

		if (!v)
			return PAWL_E_NOMEM;
		b->touched = v;
		b->captouched = cap;
	}
	b->touched[b->ntouched++] = r;
	r->marked = true;
	return 0;
}

/* ---------------- immutable releases ---------------- */

/* The length of "APP/VERSION/" when path is APP/VERSION/NAME and custom
 * says {"version": "VERSION"}; 0 when it is not a release. */
static size_t release_prefix_len(const char *path, size_t plen, const pj_value *custom)
{
	const char *vs = custom ? pj_str(pj_get(custom, "version")) : NULL;
	const char *end = path + plen, *s1, *s2;
	size_t vlen;

	if (!vs)
		return 0;
	s1 = memchr(path, '/', plen);
	if (!s1 || s1 == path)
		return 0;
	s2 = memchr(s1 + 1, '/', (size_t)(end - s1 - 1));
	if (!s2 || s2 + 1 == end || memchr(s2 + 1, '/', (size_t)(end - s2 - 1)))
		return 0;
	vlen = strlen(vs);
	if (vlen != (size_t)(s2 - s1 - 1) || memcmp(vs, s1 + 1, vlen) != 0)
		return 0;
	return (size_t)(s2 - path) + 1;
}

/* What an existing entry holds, copied out (the entry may move once the
 * batch appends to its role). */
struct entry_view {
	uint64_t length;
	char sha256[65];
	char sha512[129];
	bool release;
	bool recovery;
};

static int entry_view_of(const pj_value *v, const char *path, struct entry_view *ret)
{
	md_target t;
	const pj_value *rec;

	GUARD(md_target_parse(v, &t, path));
	memset(ret, 0, sizeof(*ret));
	ret->length = t.length;
	snprintf(ret->sha256, sizeof(ret->sha256), "%s", pj_str(pj_get(t.hashes, "sha256")) ?
		 pj_str(pj_get(t.hashes, "sha256")) : "");
	snprintf(ret->sha512, sizeof(ret->sha512), "%s", pj_str(pj_get(t.hashes, "sha512")) ?
		 pj_str(pj_get(t.hashes, "sha512")) : "");
	ret->release = release_prefix_len(path, strlen(path), t.custom) > 0;
	rec = t.custom ? pj_get(t.custom, "recovery") : NULL;
	ret->recovery = rec && pj_typeof(rec) == PJ_TRUE;
	return 0;
}

/* Same bytes: the same length and every digest both sides have (at least
 * one). */
static bool same_content(uint64_t length, const char *sha256, const char *sha512, uint64_t len,
			 const digests *dg)
{
	bool any = false;

	if (length != len)
		return false;
	if (sha256[0]) {
		if (strcmp(sha256, dg->sha256) != 0)
			return false;
		any = true;
	}
	if (sha512[0] && dg->has512) {
		if (strcmp(sha512, dg->sha512) != 0)
			return false;
		any = true;
	}
	return any;
}

/* The targets of r as they were before this batch appended to it. */
static const pj_value *listed_before(ws_role *r, const char *path)
{
	const pj_value *t = r->md->targets;

	if (!t)
		return NULL;
	return r->marked ? pj_getn_finished(t, r->batch_base, path, strlen(path))
			 : pj_get(t, path);
}

static int prior_cmp(const void *a, const void *b)
{
	const struct prior *x = a, *y = b;
	int c = strcmp(x->prefix, y->prefix);

	return c ? c : strcmp(x->path, y->path);
}

/* Every release any role listed before the batch, sorted by prefix. */
static int priors_build(struct batch *b)
{
	size_t cap = 0;

	if (b->priors_built)
		return 0;
	GUARD(ws_walk(b->w));
	for (size_t i = 0; i < b->w->nroles; i++) {
		ws_role *r = b->w->roles[i];
		const pj_value *t = r->type == MD_TARGETS ? r->md->targets : NULL;
		size_t n = t ? (r->marked ? r->batch_base : t->len) : 0;

		for (size_t k = 0; k < n && k < t->len; k++) {
			const pj_member *m = &t->u.members[k];
			const pj_value *custom = pj_get(&m->value, "custom");
			struct entry_view ev;
			struct prior *p;
			size_t plen = release_prefix_len(m->key, m->klen, custom);

			if (!plen || memchr(m->key, '\0', m->klen))
				continue;
			if (b->npriors == cap) {
				size_t nc = cap ? cap * 2 : 16;
				struct prior *v = xreallocarray(b->priors, nc, sizeof(*v));

				if (!v)
					return PAWL_E_NOMEM;
				b->priors = v;
				cap = nc;
			}
			p = &b->priors[b->npriors];
			memset(p, 0, sizeof(*p));
			p->path = xstrndup(m->key, m->klen);
			p->prefix = xstrndup(m->key, plen);
			if (!p->path || !p->prefix) {
				free(p->path);
				free(p->prefix);
				return PAWL_E_NOMEM;
			}
			b->npriors++;
			GUARD(entry_view_of(&m->value, p->path, &ev));
			p->length = ev.length;
			memcpy(p->sha256, ev.sha256, sizeof(p->sha256));
			memcpy(p->sha512, ev.sha512, sizeof(p->sha512));
			p->recovery = ev.recovery;
		}
	}
	if (b->npriors)
		qsort(b->priors, b->npriors, sizeof(*b->priors), prior_cmp);
	b->priors_built = true;
	return 0;
}

/* The releases listed for path's "APP/VERSION/" (its first plen bytes):
 * the first, and how many there are in *ret_n. */
static const struct prior *priors_find(const struct batch *b, const char *path, size_t plen,
				       size_t *ret_n)
{
	size_t lo = 0, hi = b->npriors, n = 0;

	/* Sorted by strcmp, so also by their first plen bytes; a prefix
	 * equal to path's over plen bytes is exactly path's (both end at
	 * their second '/'). */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strncmp(b->priors[mid].prefix, path, plen) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	while (lo + n < b->npriors && strlen(b->priors[lo + n].prefix) == plen &&
	       strncmp(b->priors[lo + n].prefix, path, plen) == 0)
		n++;
	*ret_n = n;
	return n ? &b->priors[lo] : NULL;
}

/* "APP VERSION" of a prefix "APP/VERSION/", for messages. */
static const char *app_version(const char *path, size_t plen, char *buf, size_t n)
{
	const char *s1 = memchr(path, '/', plen);

	snprintf(buf, n, "%.*s %.*s", (int)(s1 - path), path, (int)(plen - (size_t)(s1 - path) - 2),
		 s1 + 1);
	return buf;
}

/*
 * The release rules for one file about to be added as tpath to role r,
 * before it reaches the store: 0 to go on (*ret_skip: a release already
 * there with this content, nothing to do; *ret_path: `release` of that
 * content under another NAME, to be marked a recovery release under the
 * name it has), or PAWL_E_POLICY. When the file had to be hashed for
 * that, *ret_checked is set with its length and digests, which the stored
 * copy must then match.
 */
static int check_existing(struct batch *b, ws_role *r, const char *tpath, int dfd,
			  const char *name, const char *shown, const pj_value *custom,
			  bool *ret_skip, const char **ret_path, bool *ret_checked,
			  uint64_t *ret_len, digests *ret_dg)
{
	const pj_value *v = listed_before(r, tpath);
	size_t plen = release_prefix_len(tpath, strlen(tpath), custom), npr = 0;
	const struct prior *pr = NULL;
	struct entry_view old;
	char av[TARGET_PATH_MAX + 2];
	uint64_t len = 0;
	digests dg;

	*ret_skip = false;
	*ret_path = NULL;
	*ret_checked = false;
	if (plen) {
		GUARD(priors_build(b));
		pr = priors_find(b, tpath, plen, &npr);
		app_version(tpath, plen, av, sizeof(av));
	}
	if (!v && !pr)
		return 0;
	GUARD(content_hash_at(b->w, dfd, name, shown, &len, &dg));
	*ret_checked = true;
	*ret_len = len;
	*ret_dg = dg;

	if (pr && b->release) {
		if (npr > 1)
			return pawl_error_set(
				PAWL_E_POLICY,
				"%s is already released as %zu targets (%s, %s%s); a published "
				"release is immutable, so it is not changed further. Release %s "
				"as a new version",
				av, npr, pr[0].path, pr[1].path, npr > 2 ? ", ..." : "", shown);
		if (same_content(pr->length, pr->sha256, pr->sha512, len, &dg)) {
			if (b->recovery && !pr->recovery) {
				/* Mark it, under the name it has: only the entry's
				 * custom data changes. */
				if (strcmp(pr->path, tpath) != 0)
					*ret_path = pr->path;
				return 0;
			}
			info("%s is already released with this content (%s, sha256 %.16s...)%s; "
			     "nothing changed", av, pr->path, dg.sha256,
			     pr->recovery ? ", as a recovery release" : "");
			*ret_skip = true;
			return 0;
		}
		return pawl_error_set(
			PAWL_E_POLICY,
			"%s is already released: %s (%" PRIu64 " bytes, sha256 %.16s...)%s, and %s "
			"(%" PRIu64 " bytes, sha256 %.16s...) is different. A published release is "
			"immutable: devices that installed %s keep those bytes, and new ones would "
			"get these under the same version. Release it as a new version",
			av, pr->path, pr->length, pr->sha256, npr > 1 ? " (and more)" : "", shown, len,
			dg.sha256, av);
	}
	for (size_t i = 0; pr && i < npr; i++) {
		if (strcmp(pr[i].path, tpath) == 0)
			continue;
		if (!b->replace)
			return pawl_error_set(
				PAWL_E_POLICY,
				"%s is already released as %s; adding %s as the same version "
				"would give devices two different artifacts for it. Use a new "
				"version, or give --replace to add it anyway",
				av, pr[i].path, tpath);
		warning("%s is already released as %s; %s is added as the same version too "
			"(--replace)", av, pr[i].path, tpath);
	}
	if (!v)
		return 0;
	GUARD(entry_view_of(v, tpath, &old));
	if (same_content(old.length, old.sha256, old.sha512, len, &dg))
		return 0;
	if (old.release && !b->replace)
		return pawl_error_set(
			PAWL_E_POLICY,
			"target %s is a published release (%" PRIu64 " bytes, sha256 %.16s...) and "
			"%s (%" PRIu64 " bytes, sha256 %.16s...) is different. A published release is "
			"immutable: add it as a new version, or give --replace to replace it anyway "
			"(devices that installed it keep the old bytes)",
			tpath, old.length, old.sha256, shown, len, dg.sha256);
	warning("replacing %s %s (%" PRIu64 " bytes, sha256 %.16s...) with different content "
		"from %s (%" PRIu64 " bytes, sha256 %.16s...)%s",
		old.release ? "release" : "target", tpath, old.length, old.sha256, shown, len,
		dg.sha256, old.release ? " (--replace); devices that installed it keep the old bytes"
				       : "");
	return journal_replaced(b->w, tpath, r, old.length, old.sha256, len, dg.sha256,
				old.release);
}

static int batch_add(struct batch *b, const char *tpath, int dfd, const char *name,
		     const char *shown, const pj_value *custom)
{
	md_hash_hex h[2];
	uint64_t len, len0 = 0;
	digests dg, dg0;
	ws_role *r = NULL;
	const char *moved;
	bool skip, checked;
	int rc;

	if (!custom)
		custom = b->custom;
	rc = check_target_path(tpath);
	if (rc < 0)
		return pawl_error_prefix(rc, "%s: ", shown);
	GUARD(route(b->w, tpath, b->explicit_role, &r));
	GUARD(check_existing(b, r, tpath, dfd, name, shown, custom, &skip, &moved, &checked, &len0,
			     &dg0));
	if (skip) {
		b->unchanged++;
		return 0;
	}
	if (moved) {
		tpath = moved;
		GUARD(route(b->w, tpath, b->explicit_role, &r));
	}
	if (b->link)
		GUARD(content_link_at(b->w, dfd, name, shown, &len, &dg));
	else
		GUARD(content_add_at(b->w, dfd, name, shown, &len, &dg));
	ENSURE(!checked || (len == len0 && strcmp(dg.sha256, dg0.sha256) == 0), PAWL_E_IO,
	       "%s changed while it was added; add it again", shown);
	h[0] = (md_hash_hex){ "sha256", dg.sha256 };
	h[1] = (md_hash_hex){ "sha512", dg.sha512 };
	if (!r->marked)
		r->batch_base = r->md->targets ? r->md->targets->len : 0;
	GUARD(md_bulk_target(r->md, tpath, strlen(tpath), len, h, dg.has512 ? 2 : 1, custom));
	GUARD(touch_mark(b, r));
	GUARD(list_push(b, tpath, dg.sha256, len, r));
	b->count++;
	b->bytes += len;
	if (verbosity > 0)
		info("%s -> %s (%" PRIu64 " bytes, sha256 %.16s...)", shown, tpath, len, dg.sha256);
	return 0;
}

static int add_dir(struct batch *b, int dfd, const char *shown, const char *prefix)
{
	DIR *d;
	struct dirent *e;
	int fd, rc = 0;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot open %s", shown);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", shown);
	}
	while (rc == 0 && (errno = 0, e = readdir(d))) {
		char sub[TARGET_PATH_MAX + 1], tpath[TARGET_PATH_MAX + 1], *subshown;
		struct stat st;
		int n;

		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		n = snprintf(tpath, sizeof(tpath), "%s%s%s", prefix, *prefix ? "/" : "", e->d_name);
		if (n < 0 || (size_t)n >= sizeof(tpath)) {
			rc = pawl_error_set(PAWL_E_LIMIT, "path too long below %s", shown);
			break;
		}
		subshown = NULL;
		n = asprintf(&subshown, "%s/%s", shown, e->d_name);
		if (n < 0) {
			rc = PAWL_E_NOMEM;
			break;
		}
		if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = pawl_error_set_errno(PAWL_E_IO, errno, "cannot stat %s", subshown);
		} else if (S_ISDIR(st.st_mode)) {
			int sfd;

			rc = dir_open_at(dirfd(d), e->d_name, &sfd);
			if (rc == 0) {
				snprintf(sub, sizeof(sub), "%s", tpath);
				rc = add_dir(b, sfd, subshown, sub);
				close(sfd);
			}
		} else if (S_ISREG(st.st_mode)) {
			rc = batch_add(b, tpath, dirfd(d), e->d_name, subshown, NULL);
		} else {
			rc = pawl_error_set(PAWL_E_IO, "%s is %s; --from-dir adds regular files only",
					    subshown,
					    S_ISLNK(st.st_mode) ? "a symbolic link" : "not a regular file");
		}
		free(subshown);
	}
	if (rc == 0 && errno != 0)
		rc = pawl_error_set_errno(PAWL_E_IO, errno, "cannot read %s", shown);
	closedir(d);
	return rc;
}

static int add_manifest(struct batch *b, const char *file)
{
	_cleanup_free_ char *data = NULL;
	size_t len, lineno = 0;
	char *p, *end;
	int rc = 0;

	GUARD(file_read_all(file, 1u << 30, &data, &len));
	p = data;
	end = data + len;
	while (rc == 0 && p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p)), *line = p, *tab, *fpath, *cj;
		pj_doc *cdoc = NULL;

		if (!nl)
			nl = end;
		*nl = '\0';
		p = nl + 1;
		lineno++;
		if (nl > line && nl[-1] == '\r')
			nl[-1] = '\0';
		if (!*line || *line == '#')
			continue;
		tab = strchr(line, '\t');
		if (!tab)
			return pawl_error_set(PAWL_E_FORMAT,
					      "%s:%zu: expected TARGETPATH<TAB>FILE[<TAB>CUSTOM_JSON]",
					      file, lineno);
		*tab = '\0';
		fpath = tab + 1;
		cj = strchr(fpath, '\t');
		if (cj) {
			*cj++ = '\0';
			rc = pj_parse_copy(&cdoc, cj, strlen(cj), NULL);
			if (rc == 0 && !pj_is_object(pj_root(cdoc)))
				rc = pawl_error_set(PAWL_E_FORMAT, "custom must be a JSON object");
			if (rc < 0) {
				pj_doc_free(cdoc);
				return pawl_error_prefix(rc, "%s:%zu: ", file, lineno);
			}
		}
		rc = batch_add(b, line, AT_FDCWD, fpath, fpath, cdoc ? pj_root(cdoc) : NULL);
		pj_doc_free(cdoc);
		if (rc < 0)
			pawl_error_prefix(rc, "%s:%zu: ", file, lineno);
	}
	return rc;
}

/* Keys first (a wrong passphrase or PIN changes nothing), then the new
 * versions, the audit entry for the batch, the signatures. */
static int finish_batch(struct batch *b, strv *keys, const char *type)
{
	signers ss = { 0 };
	int rc;

	rc = signers_load(&ss, keys->v, keys->n);
	for (size_t i = 0; rc == 0 && i < b->ntouched; i++) {
		if (strcmp(type, "targets.add") == 0)
			rc = md_bulk_finish(b->touched[i]->md);
		if (rc == 0)
			rc = ws_touch(b->w, b->touched[i]);
	}
	if (rc == 0)
		rc = journal_targets(b->w, type, b->list, b->nlist, b->touched, b->ntouched,
				     b->bytes);
	if (rc == 0)
		rc = ws_sign_all(b->w, b->touched, b->ntouched, &ss);
	signers_free(&ss);
	return rc;
}

static void summary(struct batch *b, const char *verb)
{
	for (size_t i = 0; i < b->ntouched; i++) {
		ws_role *r = b->touched[i];
		sigcount c;

		if (i >= 8) {
			info("... and %zu more roles", b->ntouched - i);
			break;
		}
		if (ws_count(b->w, r, &c) < 0) {
			pawl_error_clear();
			continue;
		}
		info("%s v%" PRIu64 ": %u targets, %" PRIu32 " of %" PRIu32 " signatures%s", r->name,
		     r->md->version, r->md->targets ? r->md->targets->len : 0, c.valid, c.threshold,
		     sigcount_ok(&c) ? "" : " (sign it with `pawl-repo sign`)");
	}
	info("%s %zu target%s (%" PRIu64 " bytes); next: `pawl-repo timestamp`, then `pawl-repo "
	     "publish`",
	     verb, b->count, b->count == 1 ? "" : "s", b->bytes);
}

int cmd_add(int argc, char **argv)
{
	enum { O_CUSTOM = OPT_FIRST, O_ROLE, O_KEY, O_DIR, O_PREFIX, O_MANIFEST, O_LINK, O_REPLACE };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "custom", required_argument, NULL, O_CUSTOM },
		{ "role", required_argument, NULL, O_ROLE },
		{ "key", required_argument, NULL, O_KEY },
		{ "from-dir", required_argument, NULL, O_DIR },
		{ "prefix", required_argument, NULL, O_PREFIX },
		{ "manifest", required_argument, NULL, O_MANIFEST },
		{ "link", no_argument, NULL, O_LINK },
		{ "replace", no_argument, NULL, O_REPLACE },
		{ NULL, 0, NULL, 0 },
	};
	const char *custom = NULL, *dir = NULL, *prefix = "", *manifest = NULL;
	_cleanup_pj_doc_ pj_doc *cdoc = NULL;
	struct batch b = { 0 };
	_cleanup_ws_ ws *w = NULL;
	strv keys = { 0 };
	int ch, rc = 1, npos;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_CUSTOM: custom = optarg; break;
		case O_ROLE: b.explicit_role = optarg; break;
		case O_KEY: strv_push(&keys, optarg); break;
		case O_DIR: dir = optarg; break;
		case O_PREFIX: prefix = optarg; break;
		case O_MANIFEST: manifest = optarg; break;
		case O_LINK: b.link = true; break;
		case O_REPLACE: b.replace = true; break;
		default: common_opt("add", usage_add, ch, optarg);
		}
	}
	npos = argc - optind;
	if (dir && manifest)
		usage_error("add", "--from-dir and --manifest do not go together");
	if ((dir || manifest) ? npos != 1 : npos != 3)
		usage_error("add", (dir || manifest) ? "give only REPO with --from-dir or --manifest"
						     : "give REPO TARGETPATH FILE");
	if (custom) {
		if (pj_parse_copy(&cdoc, custom, strlen(custom), NULL) < 0 ||
		    !pj_is_object(pj_root(cdoc)))
			usage_error("add", "--custom must be a JSON object, e.g. '{\"version\": "
					   "\"1.0.0\"}'");
		b.custom = pj_root(cdoc);
	}
	if (*prefix && check_target_path(prefix) < 0)
		return fail("add");
	if (ws_open(&w, argv[optind], true) < 0)
		goto out;
	b.w = w;
	if (dir) {
		int dfd;

		if (dir_open(dir, &dfd) < 0)
			goto out;
		rc = add_dir(&b, dfd, dir, prefix);
		close(dfd);
		if (rc < 0) {
			rc = 1;
			goto out;
		}
		rc = 1;
	} else if (manifest) {
		if (add_manifest(&b, manifest) < 0)
			goto out;
	} else if (batch_add(&b, argv[optind + 1], AT_FDCWD, argv[optind + 2], argv[optind + 2],
			     NULL) < 0) {
		goto out;
	}
	if (b.count == 0) {
		pawl_error_set(PAWL_E_NOT_FOUND, "no files to add");
		goto out;
	}
	/* The content first, durably; then the metadata that names it. */
	if (content_sync(w) < 0 || finish_batch(&b, &keys, "targets.add") < 0 || ws_save(w) < 0)
		goto out;
	summary(&b, "added");
	rc = 0;
out:
	batch_free(&b);
	free(keys.v);
	return rc ? fail("add") : 0;
}

int release_add(const char *repo, const char *target, const char *file, const char *custom_json,
		bool recovery, strv *keys)
{
	_cleanup_pj_doc_ pj_doc *cdoc = NULL;
	struct batch b = { 0 };
	_cleanup_ws_ ws *w = NULL;
	int rc = 1;

	b.release = true;
	b.recovery = recovery;
	if (pj_parse_copy(&cdoc, custom_json, strlen(custom_json), NULL) < 0)
		goto out;
	b.custom = pj_root(cdoc);
	if (ws_open(&w, repo, true) < 0)
		goto out;
	b.w = w;
	if (batch_add(&b, target, AT_FDCWD, file, file, NULL) < 0)
		goto out;
	if (b.unchanged) {
		rc = 0;
		goto out;
	}
	if (content_sync(w) < 0 || finish_batch(&b, keys, "targets.add") < 0 || ws_save(w) < 0)
		goto out;
	summary(&b, "released");
	rc = 0;
out:
	batch_free(&b);
	return rc ? fail("release") : 0;
}

int cmd_remove(int argc, char **argv)
{
	enum { O_ROLE = OPT_FIRST, O_KEY };
	static const struct option opts[] = {
		COMMON_LONGOPTS,
		{ "role", required_argument, NULL, O_ROLE },
		{ "key", required_argument, NULL, O_KEY },
		{ NULL, 0, NULL, 0 },
	};
	const char *explicit_role = NULL;
	_cleanup_ws_ ws *w = NULL;
	struct batch b = { 0 };
	strv keys = { 0 };
	int ch, rc = 1;

	optind = 0;
	while ((ch = getopt_long(argc, argv, COMMON_SHORTOPTS, opts, NULL)) != -1) {
		switch (ch) {
		case O_ROLE: explicit_role = optarg; break;
		case O_KEY: strv_push(&keys, optarg); break;
		default: common_opt("remove", usage_remove, ch, optarg);
		}
	}
	if (argc - optind < 2)
		usage_error("remove", "give REPO and at least one TARGETPATH");
	if (ws_open(&w, argv[optind], true) < 0 || ws_walk(w) < 0)
		goto out;
	b.w = w;
	/* An image release that stays keeps what it reads. */
	if (image2_check_removal(w, (const char *const *)argv + optind + 1,
				 (size_t)(argc - optind - 1)) < 0)
		goto out;
	for (int a = optind + 1; a < argc; a++) {
		const char *path = argv[a];
		ws_role *found = NULL;

		if (explicit_role) {
			if (ws_find(w, explicit_role, &found) < 0)
				goto out;
			if (found->type != MD_TARGETS || !pj_get(found->md->targets, path)) {
				pawl_error_set(PAWL_E_NOT_FOUND, "%s does not list target %s",
					       explicit_role, path);
				goto out;
			}
		} else {
			for (size_t i = 0; i < w->nroles; i++) {
				ws_role *r = w->roles[i];

				if (r->type != MD_TARGETS || !pj_get(r->md->targets, path))
					continue;
				if (found) {
					pawl_error_set(PAWL_E_INVALID,
						       "target %s is listed by both %s and %s; say which "
						       "with --role",
						       path, found->name, r->name);
					goto out;
				}
				found = r;
			}
			if (!found) {
				pawl_error_set(PAWL_E_NOT_FOUND, "no role lists target %s", path);
				goto out;
			}
		}
		{
			/* What is removed, for the audit entry. */
			md_target t;
			const char *h;

			if (md_target_parse(pj_get(found->md->targets, path), &t, path) < 0)
				goto out;
			h = pj_str(pj_get(t.hashes, "sha256"));
			if (list_push(&b, path, h ? h : "", t.length, found) < 0)
				goto out;
		}
		if (md_target_remove(found->md, path) < 0 || touch_mark(&b, found) < 0)
			goto out;
		b.count++;
	}
	if (finish_batch(&b, &keys, "targets.remove") < 0 || ws_save(w) < 0)
		goto out;
	summary(&b, "removed");
	rc = 0;
out:
	batch_free(&b);
	free(keys.v);
	return rc ? fail("remove") : 0;
}

int add_stored(ws *w, const stored_target *v, size_t n, strv *keys)
{
	struct batch b = { .w = w };
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		const stored_target *t = &v[i];
		md_hash_hex h[2] = { { "sha256", t->dg.sha256 }, { "sha512", t->dg.sha512 } };
		ws_role *r = NULL;

		GUARD_GOTO(rc, check_target_path(t->path), out);
		GUARD_GOTO(rc, route(w, t->path, NULL, &r), out);
		GUARD_GOTO(rc, md_bulk_target(r->md, t->path, strlen(t->path), t->length, h,
					      t->dg.has512 ? 2 : 1, t->custom),
			   out);
		GUARD_GOTO(rc, touch_mark(&b, r), out);
		GUARD_GOTO(rc, list_push(&b, t->path, t->dg.sha256, t->length, r), out);
		b.count++;
		b.bytes += t->length;
	}
	GUARD_GOTO(rc, content_sync(w), out);
	GUARD_GOTO(rc, finish_batch(&b, keys, "targets.add"), out);
	GUARD_GOTO(rc, ws_save(w), out);
	summary(&b, "added");
out:
	batch_free(&b);
	return rc;
}
