/*
 * publisher.h - the publisher tier of libpawl: the one header through
 * which the publishing programs reach the library beyond its public API
 * (issue 17, "one door"; docs/architecture.md, "The publisher tier").
 *
 * What the tier is. A client only reads and verifies metadata, and
 * include/pawl/ is its whole door. A publisher also builds, signs and
 * stores metadata, and that needs parts of the library that are not (and
 * should not yet be) a stable public ABI:
 *
 *   metadata builders    the TUF model with its builders, signing,
 *                        serialising and the one threshold rule
 *                        (md_new, md_target_put, md_sign, md_serialize,
 *                        md_count_valid, ...; metadata/metadata.h), and
 *                        bulk insertion for large roles (metadata/bulk.h)
 *   signing and keys     keys, key files and signers: PKCS#8 files
 *                        (signer_load_file, signer_generate, ...;
 *                        crypto/crypto.h) and PKCS#11 tokens
 *                        (signer_load_pkcs11, pkcs11_is_uri;
 *                        crypto/pkcs11.h), hashing and hex
 *   canonical JSON       the strict parser and the builder, whose writer
 *                        emits canonical JSON (pj_*; json/json.h)
 *   atomic store writes  bounded reads, atomic durable writes, directory
 *                        locks (file_*, dir_*, lock_*; store/store.h) and
 *                        the one write/fsync loop (io_*; util/io.h)
 *   the publisher's log  the tamper-evident audit log: append, read,
 *                        verify (audit_*; audit/audit.h)
 *   the image encoder    slot image packs and chunk indexes
 *                        (image_compress, image_index_*; image/image.h)
 *   version comparison   Semantic Versioning 2.0 for releases
 *                        (semver_*; install/semver.h)
 *   the clock            pawl_now and RFC 3339 times (util/clock.h)
 *   error and memory     GUARD, _cleanup_, pawl_error_set, xmalloc, ...
 *                        (util/guard.h) and size-capped buffers
 *                        (util/buf.h)
 *
 * What it guarantees. Everything declared through it keeps the library's
 * rules: silent (nothing prints, nothing exits), 0 or a negative pawl_err
 * with the detail in the thread's error object, PAWL_MUST_USE where a
 * result must be checked, and the guarantees written at the top of each
 * module header listed above. It holds no switch that weakens a check:
 * the publisher signs and verifies with the same code and the same
 * threshold rule as the client. The test clock seam that util/clock.h
 * declares is for tests only (scripts/lint refuses it elsewhere).
 *
 * What it does not promise. This is not public API: nothing here is
 * installed or exported from libpawl.so (docs/abi.md); the programs link
 * the static library. Names and signatures change whenever the project's
 * programs need them to, in the same commit.
 *
 * Who may include it: pawl-repo (src/pawl-repo/), pawl-repod
 * (src/pawl-repod/) and their tests. Never pawl (src/pawl/), src/common
 * or examples/: they use include/pawl/ only. The two publishing programs
 * include only the public headers (pawl/), src/common's headers, this
 * header and their own headers;
 * scripts/include-graph (run by scripts/lint, so by make check) fails on
 * any other include, so a new need is met here, in one reviewed place,
 * and not by reaching into a module from a program.
 */
#ifndef PAWL_PUBLISHER_H
#define PAWL_PUBLISHER_H

#include "audit/audit.h"
#include "base/base.h"
#include "crypto/crypto.h"
#include "crypto/pkcs11.h"
#include "image/image.h"
#include "install/semver.h"
#include "json/json.h"
#include "metadata/bulk.h"
#include "metadata/metadata.h"
#include "pawl/common.h"
#include "util/clock.h"

#endif
