/*
 * verify.c - signature thresholds, content hashes and delegation matching.
 *
 * md_count_sigs() is the threshold rule of TUF 1.0.x section 5 (e.g.
 * 5.3.4, 5.4.2), written once for the client and the publisher: a role is
 * trusted when at least THRESHOLD distinct keys listed for it have
 * produced valid signatures over the canonical form of "signed". There is
 * one way to be counted and many ways not to be. md_verify() applies it.
 */
#include <fnmatch.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "metadata/metadata.h"

int md_signed_bytes(pawl_md *md, const char **ret, size_t *ret_len)
{
	if (!md->canon) {
		pawl_buf b = PAWL_BUF_INIT(SIZE_MAX / 2);
		int r = pj_canonical(&b, md->signed_v);

		if (r < 0) {
			buf_free(&b);
			return r;
		}
		GUARD(buf_steal(&b, &md->canon, &md->canon_len));
	}
	*ret = md->canon;
	*ret_len = md->canon_len;
	return 0;
}

static bool role_lists(const md_role *role, const char *keyid)
{
	for (uint32_t i = 0; i < role->nkeyids; i++)
		if (strcmp(role->keyids[i], keyid) == 0)
			return true;
	return false;
}

/* Whether key k is already among the n counted. */
static bool counted_already(const pawl_key *const *counted, uint32_t n, const pawl_key *k)
{
	for (uint32_t j = 0; j < n; j++)
		if (counted[j] == k || key_same_material(counted[j], k))
			return true;
	return false;
}

/* Why the first uncounted signature did not count (the rest are alike). */
static void PAWL_PRINTF(2, 3) note(md_sigcount *c, const char *fmt, ...)
{
	va_list ap;

	if (c->why[0])
		return;
	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
}

int md_count_sigs(const char *msg, size_t msglen, const pj_value *sigs, const md_keys *keys,
		  const md_role *role, uint32_t stop, md_sigcount *ret)
{
	const pawl_key **counted = NULL;
	md_sigcount c = { 0 };
	int r;

	ENSURE(pj_is_array(sigs), PAWL_E_FORMAT, "signatures must be an array");
	/* Each counted key is a distinct one the role lists. */
	counted = xcalloc(role->nkeyids ? role->nkeyids : 1, sizeof(*counted));
	if (!counted)
		return PAWL_E_NOMEM;

	for (uint32_t i = 0; i < sigs->len && (stop == 0 || c.valid < stop); i++) {
		const pj_value *s = &sigs->u.items[i];
		const char *keyid = pj_str(pj_get(s, "keyid"));
		const pj_value *sighex = pj_get(s, "sig");
		const md_keyentry *ke;
		uint8_t sig[KEY_SIG_MAX];
		size_t siglen;

		if (!keyid || !pj_is_string(sighex) || sighex->len == 0)
			continue; /* absent keyholders leave "" */
		if (!role_lists(role, keyid))
			continue; /* not a key of this role */
		ke = md_keys_find(keys, keyid);
		if (!ke || !ke->key) {
			note(&c, "key %.64s is unknown or unusable", keyid);
			continue;
		}
		if (counted_already(counted, c.valid, ke->key))
			continue; /* one key counts once, however often it signs */
		if (hex_decode(sig, sizeof(sig), &siglen, sighex->u.s, sighex->len) < 0) {
			note(&c, "signature by %.64s is not hex", keyid);
			continue;
		}
		r = key_verify(ke->key, msg, msglen, sig, siglen);
		if (r == 0) {
			counted[c.valid++] = ke->key;
		} else if (r == PAWL_E_SIGNATURE) {
			note(&c, "signature by %.64s is invalid", keyid);
		} else {
			free(counted);
			return r;
		}
	}
	free(counted);
	pawl_error_clear();
	*ret = c;
	return 0;
}

int md_count_valid(pawl_md *md, const md_keys *keys, const md_role *role, uint32_t stop,
		   md_sigcount *ret)
{
	const char *msg;
	size_t msglen;

	GUARD(md_signed_bytes(md, &msg, &msglen));
	return md_count_sigs(msg, msglen, md->signatures, keys, role, stop, ret);
}

/* The threshold over msg, with the signatures in sigs (an array); version
 * is for the message. */
static int verify_sigs(const char *msg, size_t msglen, const pj_value *sigs, const md_keys *keys,
		       const md_role *role, const char *name, uint64_t version)
{
	md_sigcount c;
	int r;

	if (role->threshold < 1)
		return pawl_error_set(PAWL_E_SIGNATURE, "%s: threshold is 0", name);
	r = md_count_sigs(msg, msglen, sigs, keys, role, role->threshold, &c);
	if (r < 0)
		return pawl_error_prefix(r, "%s: ", name);
	if (c.valid >= role->threshold)
		return 0;
	return pawl_error_set(PAWL_E_SIGNATURE,
			      "%s v%llu: %u of %u required signatures are valid%s%s", name,
			      (unsigned long long)version, c.valid, role->threshold,
			      c.why[0] ? "; " : "", c.why);
}

int md_verify(pawl_md *md, const md_keys *keys, const md_role *role, const char *name)
{
	const char *msg;
	size_t msglen;

	if (!name)
		name = md_type_name(md->type);
	if (role->threshold < 1)
		return pawl_error_set(PAWL_E_SIGNATURE, "%s: threshold is 0", name);
	GUARD(md_signed_bytes(md, &msg, &msglen));
	return verify_sigs(msg, msglen, md->signatures, keys, role, name, md->version);
}

/*
 * Large documents: the canonical form of "signed" is as large as the file,
 * and md_verify() would hold it next to the file and its parsed tree.
 * Documents pawl-repo writes (and any canonical writer) already carry
 * "signed" in canonical form, so the signatures are first checked over
 * those raw bytes, before md_parse() takes the buffer apart, and only
 * their SHA-256 is kept. After parsing, the canonical form of the parsed
 * "signed" is streamed through SHA-256: if the digests match, the bytes
 * the signatures cover are exactly the canonical form of what was parsed
 * (as md_verify() would establish), and no copy ever existed. Anything
 * else (not canonical, too few signatures over the raw bytes, no memory)
 * goes the usual way, md_verify() over the parsed document, which alone
 * decides then. Raw bytes that verify but are not the canonical form
 * (signed as pretty-printed, say) fail there, as they must.
 */
#define FAST_VERIFY_MIN ((size_t)1 << 20)

static int hash_sink(void *ctx, const void *p, size_t n)
{
	return hash_update(ctx, p, n);
}

/* SHA-256 of the canonical form of v, streamed. */
static int canonical_digest(const pj_value *v, uint8_t out[HASH_MAX_LEN])
{
	hash_ctx *h;
	int r;

	GUARD(hash_new(&h, HASH_SHA256));
	r = pj_canonical_stream(v, hash_sink, h);
	if (r == 0)
		r = hash_final(h, out);
	hash_free(h);
	return r;
}

/* Whether the signatures verify over the raw "signed" bytes of buf; if so
 * its SHA-256 goes to digest. Never an error: false sends the caller the
 * usual way. */
static bool verify_raw(const char *buf, size_t len, const md_keys *keys, const md_role *role,
		       const char *name, uint8_t digest[HASH_MAX_LEN])
{
	size_t ss, se, gs, ge;
	pj_doc *sigdoc = NULL;
	bool ok;

	if (pj_raw_member(buf, len, "signed", &ss, &se) != 0 ||
	    pj_raw_member(buf, len, "signatures", &gs, &ge) != 0 ||
	    pj_parse_copy(&sigdoc, buf + gs, ge - gs, NULL) < 0) {
		pawl_error_clear();
		return false;
	}
	ok = verify_sigs(buf + ss, se - ss, pj_root(sigdoc), keys, role, name, 0) == 0 &&
	     hash_once(HASH_SHA256, buf + ss, se - ss, digest) == 0;
	pj_doc_free(sigdoc);
	pawl_error_clear();
	return ok;
}

int md_parse_verify(pawl_md **ret, char *buf, size_t len, md_type expect, const char *name,
		    const md_keys *keys, const md_role *role, bool *fast)
{
	uint8_t raw[HASH_MAX_LEN], parsed[HASH_MAX_LEN];
	bool raw_ok = len >= FAST_VERIFY_MIN &&
		      verify_raw(buf, len, keys, role, name ? name : md_type_name(expect), raw);
	pawl_md *md;
	int r;

	if (fast)
		*fast = false;
	GUARD(md_parse(&md, buf, len, expect, name)); /* buf is the parser's now */
	if (raw_ok && canonical_digest(md->signed_v, parsed) == 0 &&
	    memcmp(raw, parsed, 32) == 0) {
		if (fast)
			*fast = true;
		*ret = md;
		return 0;
	}
	pawl_error_clear();
	r = md_verify(md, keys, role, name);
	if (r < 0) {
		md_free(md);
		return r;
	}
	*ret = md;
	return 0;
}

/* ---------------- content hashes ---------------- */

void md_hashset_free(md_hashset *hs)
{
	for (size_t i = 0; i < hs->n; i++) {
		hash_free(hs->ctx[i]);
		hs->ctx[i] = NULL;
	}
	hs->n = 0;
}

int md_hashset_init(md_hashset *hs, const pj_value *hashes, const char *what)
{
	int r;

	memset(hs, 0, sizeof(*hs));
	if (!pj_is_object(hashes) || hashes->len == 0)
		return pawl_error_set(PAWL_E_FORMAT, "%s: no hashes to check against", what);
	for (uint32_t i = 0; i < hashes->len; i++) {
		const pj_member *m = &hashes->u.members[i];
		hash_alg alg;
		size_t n;

		/* An algorithm pawl does not know (or refuses as weak) cannot be
		 * checked, so the content cannot be shown to match what was
		 * signed: refuse rather than skip it (as python-tuf does). */
		if ((r = hash_alg_from_name(m->key, &alg)) < 0) {
			md_hashset_free(hs);
			return pawl_error_prefix(r, "%s: ", what);
		}
		if (hs->n >= MD_MAX_HASHES) {
			md_hashset_free(hs);
			return pawl_error_set(PAWL_E_LIMIT, "%s: too many hashes", what);
		}
		if (!pj_is_string(&m->value) ||
		    hex_decode(hs->want[hs->n], HASH_MAX_LEN, &n, m->value.u.s, m->value.len) < 0 ||
		    n != hash_alg_len(alg)) {
			md_hashset_free(hs);
			return pawl_error_set(PAWL_E_FORMAT, "%s: %s digest is malformed", what,
					      m->key);
		}
		hs->alg[hs->n] = alg;
		if ((r = hash_new(&hs->ctx[hs->n], alg)) < 0) {
			md_hashset_free(hs);
			return r;
		}
		hs->n++;
	}
	return 0;
}

int md_hashset_update(md_hashset *hs, const void *p, size_t n)
{
	for (size_t i = 0; i < hs->n; i++)
		GUARD(hash_update(hs->ctx[i], p, n));
	return 0;
}

int md_hashset_final(md_hashset *hs, const char *what)
{
	int r = 0;

	for (size_t i = 0; i < hs->n; i++) {
		uint8_t got[HASH_MAX_LEN];

		if (r == 0) {
			r = hash_final(hs->ctx[i], got);
			if (r == 0 && !digest_equal(got, hs->want[i], hash_alg_len(hs->alg[i])))
				r = pawl_error_set(PAWL_E_HASH, "%s: %s digest does not match",
						   what, hash_alg_name(hs->alg[i]));
		}
	}
	md_hashset_free(hs);
	return r;
}

int md_check_content(const void *data, size_t len, bool has_length, uint64_t length,
		     const pj_value *hashes, const char *what)
{
	md_hashset hs;
	int r;

	if (has_length && (uint64_t)len != length)
		return pawl_error_set(PAWL_E_LENGTH, "%s: length is %zu bytes, signed as %llu",
				      what, len, (unsigned long long)length);
	if (!hashes)
		return 0;
	GUARD(md_hashset_init(&hs, hashes, what));
	r = md_hashset_update(&hs, data, len);
	if (r < 0) {
		md_hashset_free(&hs);
		return r;
	}
	return md_hashset_final(&hs, what);
}

/* ---------------- delegation matching ---------------- */

/* TUF 1.0.x section 4.5: "paths" are shell-style patterns matched one path
 * segment at a time, so '*' never matches '/', and pattern and path must
 * have the same number of segments (as python-tuf does it). */
bool md_path_match(const char *pattern, const char *path)
{
	for (;;) {
		const char *ps = strchr(pattern, '/');
		const char *ts = strchr(path, '/');
		size_t pl = ps ? (size_t)(ps - pattern) : strlen(pattern);
		size_t tl = ts ? (size_t)(ts - path) : strlen(path);
		char pseg[1024], tseg[1024];

		if ((ps == NULL) != (ts == NULL))
			return false;
		if (pl >= sizeof(pseg) || tl >= sizeof(tseg))
			return false;
		memcpy(pseg, pattern, pl);
		pseg[pl] = '\0';
		memcpy(tseg, path, tl);
		tseg[tl] = '\0';
		if (fnmatch(pseg, tseg, FNM_NOESCAPE) != 0)
			return false;
		if (!ps)
			return true;
		pattern = ps + 1;
		path = ts + 1;
	}
}

bool md_role_matches(const md_role *r, const char *path)
{
	if (r->paths) {
		for (uint32_t i = 0; i < r->paths->len; i++)
			if (md_path_match(r->paths->u.items[i].u.s, path))
				return true;
		return false;
	}
	if (r->path_hash_prefixes) {
		uint8_t d[HASH_MAX_LEN];
		char hex[2 * 32 + 1];

		if (hash_once(HASH_SHA256, path, strlen(path), d) < 0)
			return false;
		hex_encode(hex, d, 32);
		for (uint32_t i = 0; i < r->path_hash_prefixes->len; i++) {
			const pj_value *p = &r->path_hash_prefixes->u.items[i];

			if (p->len <= 64 && strncmp(hex, p->u.s, p->len) == 0)
				return true;
		}
	}
	return false;
}

uint32_t md_succinct_count(const md_succinct *s)
{
	return s->bit_length >= 32 ? UINT32_MAX : (1u << s->bit_length);
}

/* TAP 15: the hex suffix is zero-padded to ceil(bit_length / 4) digits. */
int md_succinct_name(const md_succinct *s, uint32_t bin, char *out, size_t outlen)
{
	int width = (int)((s->bit_length + 3) / 4);
	int n = snprintf(out, outlen, "%s-%0*x", s->name_prefix, width, bin);

	if (n < 0 || (size_t)n >= outlen)
		return pawl_error_set(PAWL_E_LIMIT, "succinct role name too long");
	return 0;
}

int md_succinct_role_for(const md_succinct *s, const char *path, char *out, size_t outlen)
{
	uint8_t d[HASH_MAX_LEN];
	uint32_t first;

	GUARD(hash_once(HASH_SHA256, path, strlen(path), d));
	first = ((uint32_t)d[0] << 24) | ((uint32_t)d[1] << 16) | ((uint32_t)d[2] << 8) | d[3];
	return md_succinct_name(s, s->bit_length >= 32 ? first : first >> (32 - s->bit_length),
				out, outlen);
}

bool md_succinct_has(const md_succinct *s, const char *name)
{
	size_t pl = strlen(s->name_prefix);
	size_t width = (s->bit_length + 3) / 4;
	unsigned long long bin = 0;
	const char *p;

	if (strncmp(name, s->name_prefix, pl) != 0 || name[pl] != '-')
		return false;
	p = name + pl + 1;
	if (strlen(p) != width)
		return false;
	for (; *p; p++) {
		int v;

		if (*p >= '0' && *p <= '9')
			v = *p - '0';
		else if (*p >= 'a' && *p <= 'f')
			v = *p - 'a' + 10;
		else
			return false;
		bin = bin * 16 + (unsigned)v;
	}
	return bin < (unsigned long long)md_succinct_count(s) ||
	       (s->bit_length == 32 && bin <= UINT32_MAX);
}
