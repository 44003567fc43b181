/*
 * scenario.h - what every end-to-end test program shares: one nginx on a
 * temporary docroot for the whole program (cmocka group setup and
 * teardown), and assertions about a client's run of build/pawl against a
 * simulated repository (repo_sim.h) in that docroot.
 */
#ifndef PAWL_SCENARIO_H
#define PAWL_SCENARIO_H

#include <stdbool.h>
#include <stddef.h>

#include "e2e.h"
#include "repo_sim.h"

extern e2e_server S;
extern char *DOCROOT;

int sc_group_setup(void **state);
int sc_group_teardown(void **state);

#define TARGETS(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define ARGS(...) ((const char *const[]){ __VA_ARGS__, NULL })

extern const char HELLO[];
#define HELLO_LEN ((size_t)12)

/* A repository DOCROOT/name whose targets role lists hello.txt (HELLO),
 * committed: every role at v1. */
rs_repo *repo_with_hello(const char *name, bool consistent);
/* A fresh client initialised with r's 1.root.json (or root version v). */
void client_of(e2e_client *c, const rs_repo *r);
void client_of_root(e2e_client *c, const rs_repo *r, uint64_t v);

/* "/NAME/rel" as nginx logs it (rotating static buffers). */
const char *P(const rs_repo *r, const char *rel);
/* Assert the requests nginx logged since mark, as "STATUS PATH\n" lines. */
void assert_requests(size_t mark, const char *want);
/* A refresh that must succeed. */
void refresh_ok(const e2e_client *c);
/* Run download (or refresh when targets is NULL); expect exit code 1 with
 * every msgs substring on stderr, the metadata dir unchanged when
 * unchanged is true, and the target dir unchanged in any case (no target
 * written, not even a partial file). */
void expect_refusal(const e2e_client *c, const char *clockspec, const char *const *targets,
		    const char *const *extra, bool unchanged, const char *const *msgs);
/* A file of the client's metadata dir (malloc'd). */
char *mdir_file(const e2e_client *c, const char *name, size_t *len);
/* The metadata dir's name holds exactly the bytes of REPO/relpath. */
void assert_trusted(const e2e_client *c, const char *name, const rs_repo *r,
		    const char *relpath);

/* A test that ran into an open client bug: say so and skip the rest of
 * the test (cmocka reports it SKIPPED), so the suite stays usable while
 * the bug is open and the unchanged test passes once it is fixed. */
/* Marks the spot where a once-known client bug would show itself again.
 * The bugs are fixed, so reaching it is a failure, never a skip. */
#define KNOWN_BUG(...) fail_msg("regression of a fixed client bug: " __VA_ARGS__)

#endif
