/*
 * test_rotation.c - root rotation chains (TUF 1.0.x 5.3.4-5.3.11) and
 * timestamp/snapshot/targets key rotation, end to end: build/pawl against
 * repositories served by nginx.
 *
 * A new root N+1 must be signed by a threshold of root N's keys and by a
 * threshold of its own, carry version N+1 exactly, and only the final root
 * must be unexpired. Each root that passes is trusted (written to the
 * metadata dir) before the next one is fetched. When timestamp or
 * snapshot keys change, the stale local timestamp and snapshot are
 * deleted, which is how a repository recovers from a fast-forward attack.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scenario.h"

static void keys_n(rs_repo *r, pawl_signer **out, size_t n)
{
	for (size_t i = 0; i < n; i++)
		out[i] = rs_keygen(r);
}

/* 1-of-1 -> 3-of-5 -> 2-of-5 -> 1-of-1 with a fresh key, fetched in one
 * refresh, each step signed by exactly the thresholds it needs. */
static void test_chain_thresholds_rise_and_fall(void **state)
{
	rs_repo *r = repo_with_hello("chain", true);
	pawl_signer *old = r->pool[0], *five[5], *last;
	e2e_client c;
	e2e_run run;
	size_t mark;
	char want[4096];

	(void)state;
	keys_n(r, five, 5);
	last = rs_keygen(r);
	client_of(&c, r);
	refresh_ok(&c);

	/* v2: 3-of-5, signed by the old key (v1's threshold) and 3 new. */
	rs_root_set_role(r, MD_ROOT, five, 5, 3);
	rs_root_publish(r, (pawl_signer *[]){ old, five[0], five[2], five[4] }, 4);
	/* v3: 2-of-5, signed by 3 (v2's threshold) which covers its own 2. */
	rs_root_set_role(r, MD_ROOT, five, 5, 2);
	rs_root_publish(r, (pawl_signer *[]){ five[1], five[2], five[3] }, 3);
	/* v4: 1-of-1 with a new key, signed by 2 of v3 and the new key. */
	rs_root_set_role(r, MD_ROOT, &last, 1, 1);
	rs_root_publish(r, (pawl_signer *[]){ five[0], five[1], last }, 3);

	mark = e2e_log_mark(&S);
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "root rotated v2 -> v3",
		   "root rotated v3 -> v4", "root v4");
	e2e_run_free(&run);
	/* Every intermediate root, then N+1 until a 404; then the rest is
	 * current (timestamp the same version: nothing else fetched). */
	snprintf(want, sizeof(want), "200 %s\n200 %s\n200 %s\n404 %s\n200 %s\n",
		 P(r, "metadata/2.root.json"), P(r, "metadata/3.root.json"),
		 P(r, "metadata/4.root.json"), P(r, "metadata/5.root.json"),
		 P(r, "metadata/timestamp.json"));
	assert_requests(mark, want);
	assert_trusted(&c, "root.json", r, "metadata/4.root.json");

	/* From now on only the new key counts. */
	rs_root_publish(r, &last, 1);
	rs_touch(r, "targets");
	rs_commit(r);
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v4 -> v5", "root v5, timestamp v2");
	e2e_run_free(&run);
	e2e_client_free(&c);
	rs_free(r);
}

static void test_new_root_not_signed_by_old(void **state)
{
	rs_repo *r = repo_with_hello("rot-old", true);
	pawl_signer *five[5];
	e2e_client c;

	(void)state;
	keys_n(r, five, 5);
	client_of(&c, r);
	refresh_ok(&c);
	/* The new keys sign for themselves, the old root key does not. */
	rs_root_set_role(r, MD_ROOT, five, 5, 3);
	rs_root_publish(r, five, 5);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("signature verification failed", "new root from",
			    P(r, "metadata/2.root.json"), "is not signed by trusted root v1",
			    "0 of 1 required signatures are valid"));
	e2e_client_free(&c);
	rs_free(r);
}

static void test_new_root_not_signed_by_itself(void **state)
{
	rs_repo *r = repo_with_hello("rot-self", true);
	pawl_signer *old = r->pool[0], *five[5];
	e2e_client c;

	(void)state;
	keys_n(r, five, 5);
	client_of(&c, r);
	refresh_ok(&c);
	/* The old key agrees, but only 2 of the 3 new keys it requires. */
	rs_root_set_role(r, MD_ROOT, five, 5, 3);
	rs_root_publish(r, (pawl_signer *[]){ old, five[0], five[1] }, 3);
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("signature verification failed", P(r, "metadata/2.root.json"),
			    "is not signed by its own keys", "2 of 3 required signatures"));
	e2e_client_free(&c);
	rs_free(r);
}

static void test_new_root_wrong_version(void **state)
{
	rs_repo *r = repo_with_hello("rot-version", true);
	pawl_signer *old = r->pool[0];
	e2e_client c;
	pawl_md *v3;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	/* 2.root.json holds a well-signed root that says it is v3. */
	v3 = rs_md_copy(r->root);
	t_ok(md_set_version(v3, 3));
	rs_resign(v3, &old, 1);
	rs_md_write(r, v3, "metadata/2.root.json");
	expect_refusal(&c, NULL, NULL, NULL, true,
		       ARGS("rollback", "root: expected version 2 at",
			    P(r, "metadata/2.root.json"), "got 3"));
	/* And one that says v1 (a replay of the trusted root's version). */
	t_ok(md_set_version(v3, 1));
	rs_resign(v3, &old, 1);
	rs_md_write(r, v3, "metadata/2.root.json");
	expect_refusal(&c, NULL, NULL, NULL, true, ARGS("rollback", "expected version 2", "got 1"));
	md_free(v3);
	e2e_client_free(&c);
	rs_free(r);
}

/* A chain that breaks at v3: v2 is trusted (and kept), v3 is not. */
static void test_chain_breaks_in_the_middle(void **state)
{
	rs_repo *r = repo_with_hello("rot-middle", true);
	pawl_signer *old = r->pool[0], *two[2], *intruder;
	e2e_client c;

	(void)state;
	keys_n(r, two, 2);
	intruder = rs_keygen(r);
	client_of(&c, r);
	refresh_ok(&c);
	/* v2: 2-of-{old, two[0]}, properly signed. */
	rs_root_set_role(r, MD_ROOT, (pawl_signer *[]){ old, two[0] }, 2, 2);
	rs_root_publish(r, (pawl_signer *[]){ old, two[0] }, 2);
	/* v3: signed by one of v2's two keys plus an intruder it names. */
	rs_root_set_role(r, MD_ROOT, (pawl_signer *[]){ intruder }, 1, 1);
	rs_root_publish(r, (pawl_signer *[]){ old, intruder }, 2);
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS(P(r, "metadata/3.root.json"), "is not signed by trusted root v2",
			    "1 of 2 required signatures"));
	assert_trusted(&c, "root.json", r, "metadata/2.root.json");
	/* The next run starts from v2 and fails the same way, no further. */
	expect_refusal(&c, NULL, NULL, NULL, true, ARGS("is not signed by trusted root v2"));
	e2e_client_free(&c);
	rs_free(r);
}

/* Only the final root must be unexpired (5.3.10). */
static void test_expired_intermediate_root(void **state)
{
	rs_repo *r = repo_with_hello("rot-expired", true);
	pawl_signer *old = r->pool[0];
	e2e_client c;
	e2e_run run;

	(void)state;
	client_of(&c, r);
	t_ok(md_set_expires(r->root, rs_now() - 3600));
	rs_root_publish(r, &old, 1); /* v2, expired an hour ago */
	t_ok(md_set_expires(r->root, rs_now() + 86400));
	rs_root_publish(r, &old, 1); /* v3, fine */
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "root rotated v2 -> v3", "root v3");
	e2e_run_free(&run);
	assert_trusted(&c, "root.json", r, "metadata/3.root.json");

	/* When the chain ends on an expired root, it is trusted as the
	 * newest root but the update stops there. */
	t_ok(md_set_expires(r->root, rs_now() - 60));
	rs_root_publish(r, &old, 1); /* v4, expired */
	expect_refusal(&c, NULL, NULL, NULL, false, ARGS("expired", "root v4 expired at"));
	assert_trusted(&c, "root.json", r, "metadata/4.root.json");
	e2e_client_free(&c);
	rs_free(r);
}

/*
 * Fast-forward recovery: the timestamp key leaked and the attacker got
 * clients to trust timestamp v1000. The repository rotates the timestamp
 * key and starts again at a low version; clients must follow, which only
 * works because they delete the stale local timestamp and snapshot.
 */
static void test_timestamp_key_rotation_recovers_fast_forward(void **state)
{
	rs_repo *r = repo_with_hello("rot-ts", true);
	rs_role *ts = rs_role_get(r, "timestamp");
	pawl_signer *fresh;
	e2e_client c;
	e2e_run run;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	rs_set_version(r, "timestamp", 1000); /* signed with the leaked key */
	rs_commit(r);
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "timestamp v1000");
	e2e_run_free(&run);

	fresh = rs_keygen(r);
	rs_root_set_role(r, MD_TIMESTAMP, &fresh, 1, 1);
	rs_root_publish(r, &r->pool[0], 1);
	rs_set_version(r, "timestamp", 3);
	rs_commit(r);
	assert_int_equal(ts->md->version, 3);

	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "root v2, timestamp v3, snapshot v3");
	e2e_run_free(&run);
	assert_trusted(&c, "timestamp.json", r, "metadata/timestamp.json");
	assert_trusted(&c, "snapshot.json", r, "metadata/3.snapshot.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* Snapshot key rotation with the snapshot version starting over. */
static void test_snapshot_key_rotation(void **state)
{
	rs_repo *r = repo_with_hello("rot-sn", true);
	pawl_signer *fresh;
	e2e_client c;
	e2e_run run;

	(void)state;
	client_of(&c, r);
	rs_set_version(r, "snapshot", 40);
	rs_commit(r);
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "snapshot v40");
	e2e_run_free(&run);

	fresh = rs_keygen(r);
	rs_root_set_role(r, MD_SNAPSHOT, &fresh, 1, 1);
	rs_root_publish(r, &r->pool[0], 1);
	rs_set_version(r, "snapshot", 1);
	rs_commit(r); /* timestamp v3 names snapshot v1 */
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "timestamp v3, snapshot v1");
	e2e_run_free(&run);
	assert_trusted(&c, "snapshot.json", r, "metadata/1.snapshot.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* The stale files go even when the update then fails. */
static void test_rotation_deletes_stale_files(void **state)
{
	rs_repo *r = repo_with_hello("rot-stale", true);
	pawl_signer *fresh;
	e2e_client c;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	assert_true(e2e_exists(e2e_path(c.mdir, "timestamp.json")));
	assert_true(e2e_exists(e2e_path(c.mdir, "snapshot.json")));
	fresh = rs_keygen(r);
	rs_root_set_role(r, MD_TIMESTAMP, &fresh, 1, 1);
	rs_root_publish(r, &r->pool[0], 1);
	/* The repository has not yet published a timestamp with the new key. */
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS("signature verification failed", "timestamp v1",
			    "0 of 1 required signatures"));
	assert_trusted(&c, "root.json", r, "metadata/2.root.json");
	assert_false(e2e_exists(e2e_path(c.mdir, "timestamp.json")));
	assert_false(e2e_exists(e2e_path(c.mdir, "snapshot.json")));
	assert_true(e2e_exists(e2e_path(c.mdir, "targets.json")));

	rs_commit(r);
	refresh_ok(&c);
	assert_trusted(&c, "timestamp.json", r, "metadata/timestamp.json");
	e2e_client_free(&c);
	rs_free(r);
}

/* A root that changes nothing about timestamp and snapshot keys leaves
 * their files in place: the rollback reference survives. */
static void test_rotation_keeps_unrelated_files(void **state)
{
	rs_repo *r = repo_with_hello("rot-keep", true);
	size_t l1;
	char *ts1;
	pawl_signer *k = NULL;
	e2e_client c;

	(void)state;
	client_of(&c, r);
	ts1 = rs_read(r, "metadata/timestamp.json", &l1);
	rs_touch(r, "targets");
	rs_commit(r);
	refresh_ok(&c);
	k = rs_keygen(r);
	rs_root_set_role(r, MD_TARGETS, (pawl_signer *[]){ r->pool[3], k }, 2, 1);
	rs_root_publish(r, &r->pool[0], 1);
	/* Replay of timestamp v1 after the root rotation: still a rollback. */
	rs_write(r, "metadata/timestamp.json", ts1, l1);
	expect_refusal(&c, NULL, NULL, NULL, false,
		       ARGS("rollback", "version 1", "older than trusted version 2"));
	assert_trusted(&c, "root.json", r, "metadata/2.root.json");
	free(ts1);
	e2e_client_free(&c);
	rs_free(r);
}

/* The targets key moves: targets signed by the old key stop counting. */
static void test_targets_key_rotation(void **state)
{
	rs_repo *r = repo_with_hello("rot-targets", true);
	rs_role *tg = rs_role_get(r, "targets");
	pawl_signer *oldk = r->pool[3], *fresh;
	e2e_client c;
	e2e_run run;

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	fresh = rs_keygen(r);
	rs_root_set_role(r, MD_TARGETS, &fresh, 1, 1);
	rs_root_publish(r, &r->pool[0], 1);
	tg->signers[0] = oldk; /* a repository that forgot to re-sign */
	rs_add_target(r, "targets", "new.txt", "new", 3);
	rs_commit(r);
	expect_refusal(&c, NULL, TARGETS("new.txt"), NULL, false,
		       ARGS("targets v2", "0 of 1 required signatures are valid"));
	tg->signers[0] = fresh;
	rs_touch(r, "targets");
	rs_commit(r);
	e2e_download(&run, &c, NULL, TARGETS("new.txt"), NULL);
	E2E_EXPECT(&run, 0, "downloaded new.txt");
	e2e_run_free(&run);
	e2e_client_free(&c);
	rs_free(r);
}

/* A root rotation may switch consistent snapshots off: from then on the
 * client asks for unversioned names. */
static void test_rotation_to_not_consistent(void **state)
{
	rs_repo *r = repo_with_hello("rot-consistent", true);
	e2e_client c;
	e2e_run run;
	size_t mark;
	char want[4096];

	(void)state;
	client_of(&c, r);
	refresh_ok(&c);
	r->consistent = false;
	t_ok(md_root_set_consistent(r->root, false));
	rs_root_publish(r, &r->pool[0], 1);
	rs_add_target(r, "targets", "hello.txt", "hello 2\n", 8);
	rs_commit(r);
	mark = e2e_log_mark(&S);
	e2e_download(&run, &c, NULL, TARGETS("hello.txt"), NULL);
	E2E_EXPECT(&run, 0, "root rotated v1 -> v2", "downloaded hello.txt");
	e2e_run_free(&run);
	snprintf(want, sizeof(want), "200 %s\n404 %s\n200 %s\n200 %s\n200 %s\n200 %s\n",
		 P(r, "metadata/2.root.json"), P(r, "metadata/3.root.json"),
		 P(r, "metadata/timestamp.json"), P(r, "metadata/snapshot.json"),
		 P(r, "metadata/targets.json"), P(r, "targets/hello.txt"));
	assert_requests(mark, want);
	e2e_assert_file(e2e_target_file(&c, "hello.txt"), "hello 2\n", 8);
	e2e_client_free(&c);
	rs_free(r);
}

/*
 * The same recovery when the leaked key stays listed next to the new one
 * (timestamp keys {old, new}, threshold 1): the stale timestamp v1000
 * still verifies under the new root, so only its deletion (5.3.11) lets
 * the client accept timestamp v3.
 */
static void ff_recovery_keeping_old_key(const char *name, bool interrupted)
{
	rs_repo *r = repo_with_hello(name, true);
	pawl_signer *old = r->pool[1], *fresh;
	e2e_client c;
	e2e_run run;

	client_of(&c, r);
	rs_set_version(r, "timestamp", 1000);
	rs_commit(r);
	e2e_refresh(&run, &c, NULL, NULL);
	E2E_EXPECT(&run, 0, "timestamp v1000");
	e2e_run_free(&run);

	fresh = rs_keygen(r);
	rs_root_set_role(r, MD_TIMESTAMP, (pawl_signer *[]){ old, fresh }, 2, 1);
	rs_role_get(r, "timestamp")->signers[0] = fresh;
	rs_role_get(r, "timestamp")->nsigners = 1;
	rs_root_publish(r, &r->pool[0], 1);
	rs_set_version(r, "timestamp", 3);
	rs_commit(r);
	if (interrupted) {
		/* The refresh that rotates to v2 fails right after (a broken
		 * 3.root.json), before it got to the timestamp. */
		rs_write(r, "metadata/3.root.json", "{}", 2);
		expect_refusal(&c, NULL, NULL, NULL, false,
			       ARGS("root rotated v1 -> v2", "malformed input", "root"));
		assert_trusted(&c, "root.json", r, "metadata/2.root.json");
		rs_remove(r, "metadata/3.root.json");
	}
	e2e_refresh(&run, &c, NULL, NULL);
	if (interrupted && run.status == 1 && strstr(run.err, "older than trusted version 1000")) {
		char msg[2048];

		snprintf(msg, sizeof(msg), "%s", run.err);
		e2e_run_free(&run);
		e2e_client_free(&c);
		rs_free(r);
		KNOWN_BUG("a root rotation that changed the timestamp keys, persisted by a "
			  "refresh that then failed, no longer deletes the stale timestamp on "
			  "the next refresh (5.3.11): %s", msg);
	}
	E2E_EXPECT(&run, 0, "timestamp v3");
	e2e_run_free(&run);
	assert_trusted(&c, "timestamp.json", r, "metadata/timestamp.json");
	e2e_client_free(&c);
	rs_free(r);
}

static void test_ff_recovery_old_key_still_listed(void **state)
{
	(void)state;
	ff_recovery_keeping_old_key("rot-ts-keep", false);
}

static void test_ff_recovery_after_interrupted_rotation(void **state)
{
	(void)state;
	ff_recovery_keeping_old_key("rot-ts-interrupted", true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_chain_thresholds_rise_and_fall),
		cmocka_unit_test(test_new_root_not_signed_by_old),
		cmocka_unit_test(test_new_root_not_signed_by_itself),
		cmocka_unit_test(test_new_root_wrong_version),
		cmocka_unit_test(test_chain_breaks_in_the_middle),
		cmocka_unit_test(test_expired_intermediate_root),
		cmocka_unit_test(test_timestamp_key_rotation_recovers_fast_forward),
		cmocka_unit_test(test_ff_recovery_old_key_still_listed),
		cmocka_unit_test(test_ff_recovery_after_interrupted_rotation),
		cmocka_unit_test(test_snapshot_key_rotation),
		cmocka_unit_test(test_rotation_deletes_stale_files),
		cmocka_unit_test(test_rotation_keeps_unrelated_files),
		cmocka_unit_test(test_targets_key_rotation),
		cmocka_unit_test(test_rotation_to_not_consistent),
	};

	return cmocka_run_group_tests(tests, sc_group_setup, sc_group_teardown);
}
